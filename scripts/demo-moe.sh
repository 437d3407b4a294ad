#!/bin/sh
# The sentence `make demo` prints after pricing this machine: which MoE twin holds what fixed
# against dense-110m, and the measured difference in USD per million output tokens, read
# from the stored run (`tokensim report latest --format csv`), never computed here.
# Usage: scripts/demo-moe.sh [DB]
set -u
db=${1:-tokensim.db}
./tokensim report --db "$db" --format csv latest | awk -F, '
    { gsub(/"/, "") }
    $2 == "usd_per_m_output" && $3 != "" { v[$1] = $3 }
    $2 == "chips" && $3 != "" { n[$1] = $3 }
    END {
        d = v["dense-here"]; a = v["moe-here"]; t = v["moe-total-here"]
        if (d == "" || a == "" || t == "") { print "(the run lacks a fleet: no MoE sentence)"; exit 0 }
        printf "MoE on this CPU, from this machine'"'"'s measurements: moe-110m-active keeps " \
               "dense-110m'"'"'s active parameters (4x the FFN weights to stream) and costs %.3gx as much " \
               "per output token ($%.3g vs $%.3g per million, %d machines vs %d); moe-110m-total keeps " \
               "its total weights (a quarter of the FFN work per token) and costs %.3gx ($%.3g, %d machines).\n",
               a / d, a, d, n["moe-here"], n["dense-here"], t / d, t, n["moe-total-here"]
    }'
