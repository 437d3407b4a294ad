#!/bin/sh
# End-to-end: `tokensim measure` on small presets: a done measure run with one row per model,
# phase and batch, each energy figure with its source (modeled here: this machine has no power
# meter; a machine with RAPL may say measured), --json that parses, the dense/MoE comparison in
# the report, and a measured scenario priced from the run (and refused without one).
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-measure.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
DB=$TMP/m.db
q() { sqlite3 "$DB" "$1" 2>&1; }

why=
"$TS" measure --model dense-15m --model moe-15m-total --prompt 16 --gen 4 --batch 1,3 \
    --repeat 2 --db "$DB" --out "$TMP/out" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?: $(head -c 300 "$TMP/e")"
[ "$(q "select kind || ' ' || status from runs")" = "measure done" ] || addwhy "no done run"
n=$(q "select count(*) from measurements")
[ "$n" -eq 8 ] || addwhy "$n measurement rows, expected 2 models x 2 batches x 2 phases"
[ -f "$TMP/out/measure-1/report.md" ] || addwhy "no report.md"
report "measure stores a done run with a row per model, phase and batch"

why=
m="$TMP/out/measure-1"
for f in report.html measure_tok_s.gp measure_tok_s.dat measure_tok_s.png measure_tok_s.svg \
    measure_j_per_token.gp measure_j_per_token.png; do
    [ -s "$m/$f" ] || addwhy "$f missing"
done
grep -q "energy: modeled:\|energy: measured:" "$m/measure_j_per_token.gp" ||
    addwhy "the J/token plot does not name its energy source"
[ "$(grep -c '^# line ' "$m/measure_tok_s.dat")" -eq 2 ] ||
    addwhy "measure_tok_s.dat should hold one block per model (2)"
v=$(q "select printf('%.6g', sum(tokens) / sum(seconds)) from measurements where phase = 'decode'
       and model = 'moe-15m-total' and batch = 3")
grep -q "^ 3 $v\$" "$m/measure_tok_s.dat" || addwhy "moe-15m-total batch 3 tokens/s $v not in the data file"
grep -q 'src="measure_tok_s.svg"' "$m/report.html" || addwhy "report.html lacks the tokens/s plot"
report "measure writes report.html with tokens/s and J/token against batch per model"

why=
bad=$(q "select count(*) from measurements where energy_source = '' or energy_j <= 0
         or energy_low_j > energy_j or energy_high_j < energy_j or energy_net_j > energy_j
         or seconds <= 0 or seconds_p10 > seconds or seconds_p90 < seconds or flops <= 0
         or weight_bytes <= 0 or tokens <= 0")
[ "$bad" -eq 0 ] || addwhy "$bad rows with impossible figures"
if [ ! -d /sys/class/powercap ]; then
    src=$(q "select distinct energy_source from measurements")
    [ "$src" = "modeled:cpu-linear" ] || addwhy "no power meter here, yet the source is '$src'"
    grep -q "measured" "$TMP/out/measure-1/report.md" &&
        ! grep -q "modeled" "$TMP/out/measure-1/report.md" && addwhy "report says measured"
fi
pre=$(q "select tokens from measurements where model = 'dense-15m' and phase = 'prefill' and batch = 3")
[ "$pre" -eq 48 ] || addwhy "prefill of 3 sequences of 16 tokens counted $pre tokens"
report "every row has sane figures and an honest energy source"

why=
grep -q "Dense against MoE" "$TMP/out/measure-1/report.md" || addwhy "no side-by-side table"
grep -q "| dense-15m | moe-15m-total | 3 |" "$TMP/out/measure-1/report.md" ||
    addwhy "no dense-15m / moe-15m-total row at batch 3"
report "the report puts each MoE preset beside its dense twin"

# table_matches_rows DB RUN REPORT: every row of the report's measurement table (in order) is
# the run's measurements row of the same rank: model, phase, batch and threads equal; tokens/s,
# TTFT or TPOT, GFLOP/s, J/token with its band and net J/token within the 4 figures printed.
table_matches_rows() {
    sqlite3 -separator '|' "$1" "select model, phase, batch, threads, tokens * 1.0 / seconds,
        case phase when 'prefill' then seconds / batch * 1e3
                   else seconds / (tokens / batch) * 1e3 end,
        energy_j / tokens, energy_low_j / tokens, energy_high_j / tokens, energy_net_j / tokens,
        flops / seconds / 1e9 from measurements where run_id = $2 order by rowid" >"$TMP/rows"
    awk '/^\| model \| run \| phase \|/ { t = 1; next } t && /^\|---/ { next }
         t && !/^\|/ { exit } t { print }' "$3" >"$TMP/table"
    awk -F'|' -v rows="$TMP/rows" '
    function near(a, b,  d) { gsub(/,/, "", a); d = a - b; if (d < 0) d = -d; if (b < 0) b = -b
        return a != "" && d <= 1e-3 * b }
    {
        if ((getline line < rows) <= 0) { print "more table rows than measurements"; bad = 1; exit }
        split(line, m, "|")
        for (i = 2; i <= NF; i++) gsub(/^ +| +$/, "", $i)
        split($12, jb, /[ ()]+/)
        ms = $4 == "prefill" ? $8 : $9
        if ($2 != m[1] || $4 != m[2] || $5 != m[3] || $6 != m[4] || !near($7, m[5]) ||
            !near(ms, m[6]) || !near($10, m[11]) || !near(jb[1], m[7]) || !near(jb[2], m[8]) ||
            !near(jb[4], m[9]) || !near($13, m[10]))
            { print "table row " NR ": " $0 " / stored " line; bad = 1 }
        n++
    }
    END { if (!bad && (getline line < rows) > 0) { print "fewer table rows than measurements"; bad = 1 }
          if (n == 0) print "no measurement table"
          exit bad || n == 0 }' "$TMP/table"
}

why=
"$TS" report --db "$DB" 1 >"$TMP/r.md" 2>"$TMP/e" || addwhy "report: exit status $?: $(head -c 300 "$TMP/e")"
cmp -s "$TMP/r.md" "$m/report.md" || addwhy "tokensim report 1 differs from measure-1/report.md: $(diff "$TMP/r.md" "$m/report.md" | head -5)"
out=$(table_matches_rows "$DB" 1 "$m/report.md") || addwhy "$out"
# the MoE decode rows show the experts touched that the run stored
ex=$(q "select value from metrics where run_id = 1 and part = 'measure' and
        metric = 'experts_per_layer' and fleet = 'moe-15m-total fp32 KV fp32 batch 3'")
cell=$(awk -F' [|] ' '/^[|] moe-15m-total [|] fp32 [|] decode [|] 3 [|]/ { sub(/ [|]$/, "", $NF); print $NF }' "$m/report.md")
awk -v a="$cell" -v b="$ex" 'BEGIN { exit !(a != "" && b != "" && a - b <= 0.005 && b - a <= 0.005) }' ||
    addwhy "experts/layer of moe-15m-total batch 3 is '$cell', stored '$ex'"
[ "$(q "select text from run_inputs where run_id = 1 and fleet = 'moe-15m-total' and
        key = 'dense_twin'")" = dense-15m ] || addwhy "no stored dense twin of moe-15m-total"
grep -q '"bandwidth_gb_s",' "$m/metrics.csv" || addwhy "metrics.csv lacks the machine rows"
report "a measure run's report.md is rendered from the stored run: report 1 prints it, its table is the rows"

why=
"$TS" measure --model dense-15m --prompt 8 --gen 2 --batch 1 --repeat 1 --json --db "$DB" \
    --out "$TMP/out" >"$TMP/j.json" 2>"$TMP/e" || addwhy "exit status $?: $(head -c 300 "$TMP/e")"
[ "$(sqlite3 :memory: "select json_valid(readfile('$TMP/j.json'))")" = 1 ] ||
    addwhy "--json output does not parse: $(head -c 200 "$TMP/j.json")"
[ "$(sqlite3 :memory: "select json_array_length(readfile('$TMP/j.json'), '\$.measurements')")" = 2 ] ||
    addwhy "--json does not hold 2 measurements"
cmp -s "$TMP/j.json" "$TMP/out/measure-2/results.json" ||
    addwhy "--json differs from measure-2/results.json"
report "--json prints JSON that parses"

cat >"$TMP/here.ini" <<'INI'
[scenario]
name = here

[workload]
model = dense-15m
input_tokens_per_day = 1e6
output_tokens_per_day = 1e6

[fleet here]
chip = this-machine
throughput = measured
measurement = 1
price_usd = 1000
usd_per_kwh = 0.1
INI
why=
"$TS" run --db "$DB" --out "$TMP/out" "$TMP/here.ini" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?: $(head -c 300 "$TMP/e")"
src=$(q "select energy_source from fleets where fleet = 'here'")
msrc=$(q "select distinct energy_source from measurements where run_id = 1")
[ "$src" = "$msrc" ] || addwhy "fleet energy source '$src', measure run's '$msrc'"
tok=$(q "select value from metrics where fleet = 'here' and metric = 'decode_tok_s_per_chip'
         and run_id = (select max(id) from runs)")
best=$(q "select max(tokens / seconds) from measurements where run_id = 1 and model = 'dense-15m'
          and phase = 'decode'")
[ "$(sqlite3 :memory: "select abs($tok - $best) < 1e-6 * $best")" = 1 ] ||
    addwhy "decode tok/s $tok, best measured $best"
report "a measured scenario takes tokens/s and energy source from the measure run"

why=
printf 'tpot_slo_ms = 0.0001\n' >>"$TMP/slo.ini"
sed 's/^output_tokens_per_day = 1e6$/output_tokens_per_day = 1e6\ntpot_slo_ms = 0.0001/' \
    "$TMP/here.ini" >"$TMP/slo.ini"
"$TS" run --db "$DB" --out "$TMP/out" "$TMP/slo.ini" >"$TMP/o" 2>"$TMP/e"
st=$?
[ "$st" -eq 2 ] || addwhy "exit status $st, expected 2"
grep -q "slo.ini:10: fleet 'here': no measured decode of 'dense-15m'.*meets tpot_slo_ms" \
    "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
"$TS" run --db "$TMP/none.db" --out "$TMP/out" "$TMP/here.ini" >"$TMP/o" 2>"$TMP/e"
st=$?
[ "$st" -eq 2 ] || addwhy "without a database: exit status $st, expected 2"
[ ! -e "$TMP/none.db" ] || addwhy "a database was created"
report "an unmet SLO or a missing measure run is a FILE:LINE error"

why=
n=$(q "select count(*) from validation where run_id = 1 and predicted_tok_s > 0 and measured_tok_s > 0")
[ "$n" -eq 8 ] || addwhy "$n validation rows for run 1, expected 8"
grep -q "The roofline against these measurements" "$TMP/out/measure-1/report.md" ||
    addwhy "the measure report has no validation table"
"$TS" validate --db "$DB" --run 1 >"$TMP/o" 2>"$TMP/e" || addwhy "validate: exit status $?"
grep -q "Median error" "$TMP/o" || addwhy "validate prints no summary: $(head -c 200 "$TMP/o")"
meas=$(q "select round(measured_tok_s, 3) from validation where run_id = 1 and model = 'dense-15m'
          and phase = 'decode' and batch = 3")
want=$(q "select round(tokens / seconds, 3) from measurements where run_id = 1 and
          model = 'dense-15m' and phase = 'decode' and batch = 3")
[ "$meas" = "$want" ] || addwhy "validation measured $meas, measurements say $want"
"$TS" validate --db "$TMP/none.db" >"$TMP/o" 2>"$TMP/e"
[ $? -eq 2 ] || addwhy "validate without a database should exit 2"
[ ! -e "$TMP/none.db" ] || addwhy "validate created a database"
report "the measure run holds the roofline's predictions, and validate recomputes them"

why=
P=$TMP/p.db
"$TS" measure --model dense-15m --prompt 8 --gen 12 --batch 1 --repeat 1 --precision fp32,int8 \
    --kv bf16 --mtp 2 --mtp-accept 0.5,1 --db "$P" --out "$TMP/pout" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?: $(head -c 300 "$TMP/e")"
pq() { sqlite3 "$P" "$1" 2>&1; }
[ "$(pq "select group_concat(distinct precision) from measurements")" = "fp32,int8" ] ||
    addwhy "precisions stored: $(pq "select group_concat(distinct precision) from measurements")"
[ "$(pq "select count(*) from measurements where kv_precision = 'bf16'")" -eq 16 ] ||
    addwhy "expected 16 rows (2 precisions x (batch 1 + 3 MTP runs) x 2 phases) with KV bf16"
# forced rate 1 with 2 drafts: every step keeps both (12 tokens: the prefill's, then 4 steps of 3
# and a last one cut short)
tps=$(pq "select round(tokens_per_step, 3) from measurements where precision = 'fp32' and
          phase = 'decode' and mtp_accept_forced = 1")
[ "$tps" = "2.75" ] || addwhy "tokens per step at forced 1: '$tps', expected 2.75"
[ "$(pq "select count(*) from measurements where mtp_depth = 2 and phase = 'decode' and
        mtp_accept_forced is null and mtp_accept_measured between 0 and 1")" -eq 2 ] ||
    addwhy "the unforced MTP rows do not record a measured acceptance"
r="$TMP/pout/measure-1/report.md"
"$TS" report --db "$P" 1 | cmp -s - "$r" || addwhy "tokensim report differs from the MTP run's report.md"
out=$(table_matches_rows "$P" 1 "$r") || addwhy "$out"
grep -q "## Precision: fp32 against bf16 against int8" "$r" || addwhy "no precision section"
grep -q "greedy agreement" "$r" || addwhy "no accuracy table"
grep -q "## Multi-token prediction" "$r" || addwhy "no MTP section"
grep -q "| 1.00 (forced) |" "$r" || addwhy "forced rows are not labelled forced"
ag=$(pq "select value from metrics where fleet = 'dense-15m int8 KV bf16' and
         metric = 'greedy_agreement'")
awk -v a="$ag" 'BEGIN { exit !(a != "" && a >= 0 && a <= 1) }' ||
    addwhy "no greedy agreement metric for int8: '$ag'"
[ "$(pq "select count(*) from metrics where metric like 'logit_%_abs_diff'")" -eq 4 ] ||
    addwhy "expected max and mean logit differences for fp32/KV bf16 and int8/KV bf16"
report "measure records precision, KV precision and MTP settings and reports them"

why=
for bad in "--precision int3" "--kv int8" "--kv int4" "--mtp 9" "--mtp-accept 0.5" "--mtp 1 --mtp-accept 2" \
    "--mtp 1 --mtp-accept x"; do
    # shellcheck disable=SC2086
    "$TS" measure --model dense-15m $bad --db "$TMP/bad.db" --out "$TMP/bad" >"$TMP/o" 2>"$TMP/e"
    rc=$?
    [ "$rc" -eq 2 ] || addwhy "'$bad' exited $rc, expected 2"
    [ -s "$TMP/e" ] || addwhy "'$bad' printed no error"
done
[ ! -e "$TMP/bad.db" ] || addwhy "a refused measure created a database"
report "measure refuses bad precision and MTP options with exit 2"

[ "$failed" -eq 0 ]
