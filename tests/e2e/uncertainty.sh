#!/bin/sh
# End-to-end: Monte Carlo, sweeps and comparisons. Sample means and percentiles against
# analytic values (a cost linear in one uniform or normal input), the same seed giving the same
# numbers, histograms and tornado rows, sweeps with the expected number of points, a break-even
# against its closed form, and Ctrl-C leaving nothing stored.
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-mc.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
q() { sqlite3 "$1" "$2" 2>&1; }
# near GOT WANT RELTOL: true when |GOT - WANT| <= RELTOL * |WANT|
near() { [ "$(sqlite3 :memory: "select abs($1 - ($2)) <= $3 * abs($2)")" = 1 ]; }

# usd_per_m_output = 10 chips x 24 h x rate / 1e9 tokens x 1e6 = 0.24 x rate (no input tokens)
cat >"$TMP/lin.ini" <<'INI'
[scenario]
name = linear
samples = 40000
seed = 11

[workload]
model = llama-3.1-8b
output_tokens_per_day = 1e9

[fleet flat]
chip = h100-sxm
cost = rent
chips = 10
rent_usd_per_chip_hour = uniform(1, 3)
decode_tok_s_per_chip = 20000

[fleet bell]
chip = h100-sxm
cost = rent
chips = 10
rent_usd_per_chip_hour = normal(2, 0.2)
decode_tok_s_per_chip = 20000
INI
why=
"$TS" run --db "$TMP/a.db" --out "$TMP/out" "$TMP/lin.ini" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?: $(head -c 300 "$TMP/e")"
m() { q "$TMP/a.db" "select $2 from metrics where fleet = '$1' and metric = 'usd_per_m_output'"; }
near "$(m flat value)" 0.48 0.01 || addwhy "uniform mean $(m flat value), want 0.48"
near "$(m flat p5)" 0.264 0.01 || addwhy "uniform p5 $(m flat p5), want 0.24 x 1.1 = 0.264"
near "$(m flat p50)" 0.48 0.01 || addwhy "uniform p50 $(m flat p50), want 0.48"
near "$(m flat p95)" 0.696 0.01 || addwhy "uniform p95 $(m flat p95), want 0.24 x 2.9 = 0.696"
near "$(m bell value)" 0.48 0.005 || addwhy "normal mean $(m bell value), want 0.48"
near "$(m bell p5)" "0.24 * (2 - 1.6448536 * 0.2)" 0.005 || addwhy "normal p5 $(m bell p5)"
near "$(m bell p95)" "0.24 * (2 + 1.6448536 * 0.2)" 0.005 || addwhy "normal p95 $(m bell p95)"
report "sample means and percentiles match the analytic ones"

why=
"$TS" run --db "$TMP/a.db" --out "$TMP/out" "$TMP/lin.ini" >/dev/null 2>&1 || addwhy "rerun failed"
a=$(q "$TMP/a.db" "select group_concat(value || '/' || p5 || '/' || p95) from metrics where run_id = 1")
b=$(q "$TMP/a.db" "select group_concat(value || '/' || p5 || '/' || p95) from metrics where run_id = 2")
[ "$a" = "$b" ] || addwhy "the same seed gave different metrics"
sed 's/^seed = 11$/seed = 12/' "$TMP/lin.ini" >"$TMP/lin12.ini"
"$TS" run --db "$TMP/a.db" --out "$TMP/out" "$TMP/lin12.ini" >/dev/null 2>&1
c=$(q "$TMP/a.db" "select group_concat(value || '/' || p5 || '/' || p95) from metrics where run_id = 3")
[ "$a" != "$c" ] || addwhy "another seed gave the same metrics"
report "the same seed gives identical metrics, another seed different ones"

why=
n=$(q "$TMP/a.db" "select sum(count) from histograms where run_id = 1 and fleet = 'flat' and metric = 'usd_per_m_output'")
[ "$n" -eq 40000 ] || addwhy "histogram holds $n samples, not 40000"
t=$(q "$TMP/a.db" "select count(*) from tornado where run_id = 1 and fleet = 'flat'")
[ "$t" -eq 1 ] || addwhy "$t tornado bars for fleet flat (one input reaches it)"
lo=$(q "$TMP/a.db" "select low_value from tornado where run_id = 1 and fleet = 'flat'")
near "$lo" 0.24*1.2 1e-9 || addwhy "tornado P10 value $lo, want 0.24 x 1.2"
grep -q "Monte Carlo: 40000 samples" "$TMP/out/lin-1/report.md" || addwhy "report says nothing of it"
report "histograms hold every sample; the tornado bar sits at the input's P10 and P90"

cat >"$TMP/sw.ini" <<'INI'
[scenario]
name = sweep

[workload]
model = llama-3.1-8b
output_tokens_per_day = 1e9

[fleet base]
chip = h100-sxm
cost = rent
rent_includes_power = false
chips = 10
rent_usd_per_chip_hour = 2
usd_per_kwh = 0.08
decode_tok_s_per_chip = 20000

[fleet other]
chip = h20
cost = rent
rent_includes_power = false
chips = 30
rent_usd_per_chip_hour = 0.6
usd_per_kwh = 0.08
decode_tok_s_per_chip = 8000

[sweep]
over = usd_per_kwh
values = 0.02..0.20 step 0.02
over2 = fleet other.rent_usd_per_chip_hour
values2 = 0.4, 0.6, 0.8

[compare]
baseline = base
breakeven = usd_per_kwh
INI
why=
"$TS" run --db "$TMP/s.db" --out "$TMP/out" "$TMP/sw.ini" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?: $(head -c 300 "$TMP/e")"
[ "$(q "$TMP/s.db" "select kind from runs")" = sweep ] || addwhy "run kind is not sweep"
pts=$(q "$TMP/s.db" "select count(distinct x || ',' || y) from sweep_points")
[ "$pts" -eq 30 ] || addwhy "$pts grid points, expected 10 x 3"
rows=$(q "$TMP/s.db" "select count(*) from sweep_points where metric = 'usd_per_m_output'")
[ "$rows" -eq 60 ] || addwhy "$rows usd_per_m_output rows, expected 30 points x 2 fleets"
report "a 2-D sweep stores every point for every fleet"

why=
# other: usd_per_m_output(x) = (30 x 24 x 0.6 + kWh x x) / 1e9 x 1e6; equal to base's at
# x* = (base usd_per_day - 30 x 24 x 0.6) / energy_kwh_per_day
g() { q "$TMP/s.db" "select value from metrics where fleet = '$1' and metric = '$2'"; }
want=$(sqlite3 :memory: "select ($(g base usd_per_day) - 30 * 24 * 0.6) / $(g other energy_kwh_per_day)")
got=$(g other breakeven_usd_per_kwh)
near "$got" "$want" 1e-6 || addwhy "break-even $got, closed form $want"
[ -z "$(g base breakeven_usd_per_kwh)" ] || addwhy "the baseline has a break-even value"
r=$(q "$TMP/s.db" "select ratio from comparisons where fleet = 'other' and metric = 'usd_per_day'")
near "$r" "$(g other usd_per_day) / $(g base usd_per_day)" 1e-9 || addwhy "ratio $r"
report "a break-even matches its closed form and ratios divide by the baseline"

why=
sed 's/^values = 0.02..0.20 step 0.02$/values = 0.02..0.03 step 0.02/; s/^breakeven = usd_per_kwh$/breakeven = usd_per_kwh\nbreakeven_range = 0..0.01/' \
    "$TMP/sw.ini" >"$TMP/none.ini"
"$TS" run --db "$TMP/n.db" --out "$TMP/out" "$TMP/none.ini" >/dev/null 2>&1 || addwhy "run failed"
v=$(q "$TMP/n.db" "select coalesce(value, 'NULL') from metrics where fleet = 'other' and metric = 'breakeven_usd_per_kwh'")
[ "$v" = NULL ] || addwhy "break-even outside the range gave $v, want NULL"
report "no break-even in range is stored as NULL"

why=
sed 's/^samples = 40000$/samples = 3000000/' "$TMP/lin.ini" >"$TMP/big.ini"
"$TS" run --db "$TMP/big.db" --out "$TMP/out" "$TMP/big.ini" >"$TMP/o" 2>"$TMP/e" &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
st=$?
[ "$st" -eq 130 ] || addwhy "exit status $st after Ctrl-C, expected 130"
grep -q "interrupted" "$TMP/e" || addwhy "no message: $(head -c 200 "$TMP/e")"
[ "$(q "$TMP/big.db" "select status from runs")" = failed ] ||
    addwhy "runs: $(q "$TMP/big.db" "select id, status from runs" | tr '\n' ' ')"
q "$TMP/big.db" "select error from runs" | grep -q "interrupted" || addwhy "the run's error does not say interrupted"
[ "$(q "$TMP/big.db" "select count(*) from metrics")" = 0 ] || addwhy "metrics were stored"
grep -q "marked failed" "$TMP/e" || addwhy "message: $(head -c 200 "$TMP/e")"
report "Ctrl-C stops a Monte Carlo run: the run is marked failed, no results stored"

cat >"$TMP/opt.ini" <<'INI'
[scenario]
name = opt

[workload]
model = llama-3.3-70b
requests_per_day = 5e6
input_tokens_per_request = 1000
output_tokens_per_request = 300
tpot_slo_ms = 50

[fleet t]
chip = h100-sxm
usd_per_kwh = 0.08
pue = 1.2
throughput = roofline
chips_per_instance = 8

[optimize]
fleet = t
chips = h100-sxm, h20, ascend-910b, b200
power_cap_mw = 0.1
INI
why=
"$TS" run --db "$TMP/o.db" --out "$TMP/out" "$TMP/opt.ini" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?: $(head -c 300 "$TMP/e")"
# brute force: the cheapest candidate within the cap, then the next
want=$(q "$TMP/o.db" "select c.fleet from metrics c join metrics p on p.fleet = c.fleet
    and p.metric = 'facility_power_kw' where c.fleet like 'opt-%' and c.metric = 'usd_per_m_output'
    and p.value <= 100 order by c.value limit 2" | tr '\n' ' ')
got=$(q "$TMP/o.db" "select fleet from metrics where metric = 'optimize_rank' and value is not null
    order by value limit 2" | tr '\n' ' ')
[ "$want" = "$got" ] || addwhy "ranked '$got', brute force '$want'"
inf=$(q "$TMP/o.db" "select count(*) from metrics where metric = 'optimize_feasible' and value = 0")
over=$(q "$TMP/o.db" "select count(*) from metrics where fleet like 'opt-%' and
    metric = 'facility_power_kw' and value > 100")
[ "$inf" = "$over" ] && [ "$inf" -ge 1 ] || addwhy "$inf infeasible, $over over the cap"
grep -q "## Optimizer" "$TMP/out/opt-1/report.md" || addwhy "no optimizer section"
report "the optimizer's ranking matches a brute-force search under the power cap"

[ "$failed" -eq 0 ]
