#!/bin/sh
# End-to-end: `tokensim serve-bench` (issue 19): the real engine serves a few seconds of
# Poisson traffic at a low rate behind the scheduler; every request is stored with its arrival,
# first token and finish, and its token times: the first token comes after the arrival and
# equals the first token time, token times increase, the count of token rows equals the
# request's answer length, the last token is the finish; the metric rows carry the latency
# percentiles, throughput and J/token with the energy source; the run's folder holds report.md
# (rendered from the stored run: `tokensim report` prints the same), report.html and the
# per-request latency plot. A trace drives the same command.
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-serve.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
DB=$TMP/s.db
q() { sqlite3 "$DB" "$1" 2>&1; }

why=
"$TS" serve-bench --model dense-15m --rate 5 --duration 1.5 --input 24 --output 8 --seed 3 \
    --meter modeled --db "$DB" --out "$TMP/out" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit $?: $(head -c 300 "$TMP/e")"
n=$(q "select count(*) from serving_requests where run_id = 1")
[ "$n" -ge 2 ] || addwhy "$n requests stored"
[ "$(q "select count(*) from serving_requests where first_token_s <= arrival_s
        or finish_s < first_token_s or first_token_s is null")" = 0 ] ||
    addwhy "a first token before its arrival, or unfinished"
[ "$(q "select count(*) from serving_requests r where output_tokens !=
        (select count(*) from serving_tokens t where t.run_id = r.run_id and t.request = r.request)")" = 0 ] ||
    addwhy "token rows do not match the answer lengths"
[ "$(q "select count(*) from serving_tokens a join serving_tokens b on a.run_id = b.run_id and
        a.request = b.request and b.k = a.k + 1 where b.time_s <= a.time_s")" = 0 ] ||
    addwhy "token times do not increase"
[ "$(q "select count(*) from serving_requests r join serving_tokens t on t.run_id = r.run_id
        and t.request = r.request where (t.k = 0 and t.time_s != r.first_token_s)
        or (t.k = r.output_tokens - 1 and t.time_s != r.finish_s)")" = 0 ] ||
    addwhy "first or last token time differs from the request's"
report "serve-bench stores consistent per-request and per-token times"

why=
[ "$(q "select kind || ' ' || status || ' ' || name from runs")" = "measure done serve-bench dense-15m" ] ||
    addwhy "run: $(q "select * from runs")"
for m in ttft_p50_ms ttft_p90_ms tpot_p50_ms itl_p90_ms e2e_p99_s throughput_tok_s j_per_token; do
    [ "$(q "select count(*) from metrics where metric = '$m' and value > 0")" = 1 ] ||
        addwhy "metric $m missing or not positive"
done
[ "$(q "select energy_source from fleets")" = "modeled:cpu-linear" ] || addwhy "energy source"
tok=$(q "select sum(output_tokens) from serving_requests")
grep -q " $tok answer tokens" "$TMP/o" || addwhy "printed summary: $(head -1 "$TMP/o")"
report "serve-bench stores latency percentiles, throughput and J/token with the energy source"

why=
dir=$(q "select out_dir from runs where id = 1")
[ "$dir" = "$TMP/out/serve-bench-1" ] || addwhy "out_dir '$dir'"
for f in report.md report.html metrics.csv served_requests.gp served_requests.dat; do
    [ -s "$dir/$f" ] || addwhy "no $f in $dir"
done
grep -q "^# serve-bench: dense-15m on this machine" "$dir/report.md" || addwhy "report title"
p90=$(q "select value from metrics where metric = 'ttft_p90_ms'")
row=$(grep "^| time to first token |" "$dir/report.md")
awk -v r="$row" -v m="$p90" 'BEGIN { split(r, c, "|"); gsub(/[ ,]/, "", c[4]);
    d = c[4] / m - 1; exit !(d < 1e-3 && d > -1e-3) }' || addwhy "report P90 TTFT '$row' vs $p90"
n=$(q "select count(*) from serving_requests where run_id = 1")
[ "$(grep -cv '^#' "$dir/served_requests.dat")" = "$n" ] || addwhy "plot rows differ from requests"
grep -q "^$n requests arrived" "$dir/report.md" || addwhy "report request count"
"$TS" report 1 --db "$DB" | cmp -s - "$dir/report.md" || addwhy "report 1 differs from report.md"
report "serve-bench writes its report folder from the stored run (report.md, html, plot)"

why=
printf 'arrival_s,input_tokens,output_tokens\n0,16,4\n0.05,20,6\n0.3,8,3\n' >"$TMP/t.csv"
"$TS" serve-bench --model moe-15m-total --trace "$TMP/t.csv" --meter modeled --db "$DB" \
    --out "$TMP/out" >"$TMP/o" 2>"$TMP/e" || addwhy "exit $?: $(head -c 300 "$TMP/e")"
[ "$(q "select group_concat(output_tokens) from serving_requests where run_id = 2")" = "4,6,3" ] ||
    addwhy "trace requests: $(q "select * from serving_requests where run_id = 2")"
"$TS" serve-bench --model dense-15m --input 300 --output 10 --rate 5 --duration 1 \
    --db "$DB" --out "$TMP/out" 2>"$TMP/e" >/dev/null
rc=$?
[ "$rc" -eq 2 ] || addwhy "a request longer than the model: exit $rc"
report "serve-bench follows a trace and refuses requests longer than the model"

[ "$failed" -eq 0 ]
