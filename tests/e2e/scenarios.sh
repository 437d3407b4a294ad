#!/bin/sh
# End-to-end: every shipped scenario in scenarios/ checks and runs. A run exits 0, writes
# OUT/<stem>-<id>/report.md and metrics.csv, leaves a `done` runs row, metric rows for every
# fleet with no NaN or infinity and a positive usd_per_m_output. Two runs of one scenario give
# two runs rows and two report folders. scenarios/deepseek-day-margin.ini reproduces DeepSeek's
# published day (chips, cost per day, markup, revenue).
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-scn.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
DB=$TMP/s.db
OUT=$TMP/out

q() { sqlite3 "$DB" "$1" 2>&1; }

if [ ! -x "$TS" ]; then
    echo "not ok - ./tokensim is built (run make build)"
    exit 1
fi

# Scenarios with measured fleets read the latest measure run, calibrated ones its calibration:
# make a small one first.
why=
"$TS" measure --model dense-110m --model moe-110m-active --model moe-110m-total --prompt 16 --gen 4 --batch 1,2,3 \
    --repeat 1 --db "$DB" --out "$OUT" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?: $(head -c 400 "$TMP/e")"
"$TS" calibrate --db "$DB" >"$TMP/o" 2>"$TMP/e" || addwhy "calibrate: exit $?: $(head -c 400 "$TMP/e")"
report "a small measure run and its calibration for the this-machine scenarios"

n_scn=0
for f in scenarios/*.ini; do
    [ -f "$f" ] || continue
    n_scn=$((n_scn + 1))
    stem=$(basename "$f" .ini)
    fleets=$(sed -n 's/^\[[Ff][Ll][Ee][Ee][Tt] \([^]]*\)\].*/\1/p' "$f")
    n_fleets=$(printf '%s\n' "$fleets" | grep -c .)

    why=
    "$TS" check --db "$DB" "$f" >"$TMP/o" 2>"$TMP/e" ||
        addwhy "exit status $?: $(head -c 400 "$TMP/e")"
    report "$stem: check exits 0"

    why=
    prev=0
    [ ! -f "$DB" ] || prev=$(q "select coalesce(max(id), 0) from runs")
    "$TS" run -q --db "$DB" --out "$OUT" "$f" >"$TMP/o" 2>"$TMP/e" ||
        addwhy "exit status $?: $(head -c 400 "$TMP/e")"
    id=$(q "select max(id) from runs")
    [ "$id" != "$prev" ] || addwhy "no new runs row"
    dir=$OUT/$stem-$id
    [ "$(cat "$TMP/o")" = "$dir/report.md" ] || addwhy "run -q printed '$(cat "$TMP/o")'"
    [ -f "$dir/report.md" ] || addwhy "no $dir/report.md"
    [ -f "$dir/metrics.csv" ] || addwhy "no $dir/metrics.csv"
    report "$stem: run exits 0 and writes $stem-$id/report.md and metrics.csv"

    why=
    st=$(q "select status from runs where id = $id")
    [ "$st" = "done" ] || addwhy "runs.status is '$st'"
    k=$(q "select kind from runs where id = $id")
    want_kind=scenario
    grep -q '^\[sweep\]' "$f" && want_kind=sweep
    [ "$k" = "$want_kind" ] || addwhy "runs.kind is '$k', expected '$want_kind'"
    report "$stem: the runs row is 'done'"

    why=
    [ "$n_fleets" -ge 1 ] || addwhy "no [fleet NAME] found in $f"
    for fl in $fleets; do
        n=$(q "select count(*) from metrics where run_id = $id and fleet = '$fl'")
        [ "$n" -gt 0 ] 2>/dev/null || addwhy "no metrics rows for fleet $fl ($n)"
    done
    n=$(q "select count(distinct fleet) from metrics where run_id = $id and fleet != '-'")
    [ "$n" = "$n_fleets" ] || addwhy "$n fleets in metrics, $n_fleets in the scenario"
    report "$stem: metrics has rows for all $n_fleets fleets"

    why=
    n=$(q "select count(*) from metrics where run_id = $id and value is not null and (value != value)")
    [ "$n" = 0 ] || addwhy "$n NaN values: $(q "select fleet || '.' || metric from metrics where run_id = $id and value is not null and value != value limit 5")"
    n=$(q "select count(*) from metrics where run_id = $id and (value > 1e308 or value < -1e308)")
    [ "$n" = 0 ] || addwhy "$n infinite values: $(q "select fleet || '.' || metric from metrics where run_id = $id and (value > 1e308 or value < -1e308) limit 5")"
    report "$stem: no NaN or infinite metric values"

    why=
    for fl in $fleets; do
        v=$(q "select value from metrics where run_id = $id and fleet = '$fl' and metric = 'usd_per_m_output'")
        n=$(q "select count(*) from metrics where run_id = $id and fleet = '$fl' and metric = 'usd_per_m_output' and value > 0")
        [ "$n" = 1 ] || addwhy "fleet $fl: usd_per_m_output = '$v'"
    done
    report "$stem: usd_per_m_output is positive for every fleet"

    why=
    for mu in usd_per_m_output:USD/Mtok j_per_output_token:J/token usd_per_day:USD/window \
        chips:chips energy_kwh_per_day:kWh/window markup:ratio; do
        n=$(q "select count(*) from metrics where run_id = $id and metric = '${mu%%:*}' and unit = '${mu#*:}'")
        [ "$n" = "$n_fleets" ] || addwhy "metric ${mu%%:*} with unit ${mu#*:}: $n rows"
    done
    report "$stem: metric units follow the contract"

    why=
    if [ -f "$dir/report.md" ]; then
        for fl in $fleets; do
            grep -qF -- "$fl" "$dir/report.md" || addwhy "report.md does not name fleet $fl"
        done
        for u in USD/Mtok J/token; do
            grep -qF -- "$u" "$dir/report.md" || addwhy "report.md lacks the unit '$u'"
        done
    else
        addwhy "no report.md"
    fi
    report "$stem: report.md names every fleet and the units USD/Mtok and J/token"

    why=
    h=$(head -n 1 "$dir/metrics.csv" 2>/dev/null | tr -d '\r')
    [ "$h" = "fleet,metric,value,unit" ] || addwhy "header is '$h'"
    rows=$(($(wc -l <"$dir/metrics.csv" 2>/dev/null || echo 1) - 1))
    n=$(q "select count(*) from metrics where run_id = $id")
    [ "$rows" -ge 1 ] || addwhy "metrics.csv has no rows"
    [ "$rows" = "$n" ] || addwhy "metrics.csv has $rows rows, the database $n"
    report "$stem: metrics.csv has the header fleet,metric,value,unit and rows ($rows csv, $n db)"
done

why=
[ "$n_scn" -ge 1 ] || addwhy "no scenarios/*.ini"
report "scenarios/ holds scenarios ($n_scn)"

# Two runs of one scenario into one database: two rows, two folders, nothing overwritten.
SCN=scenarios/deepseek-day-margin.ini
why=
D2=$TMP/twice.db
"$TS" run -q --db "$D2" --out "$TMP/twice" "$SCN" >"$TMP/o1" 2>"$TMP/e" ||
    addwhy "first run: exit status $?: $(head -c 300 "$TMP/e")"
"$TS" run -q --db "$D2" --out "$TMP/twice" "$SCN" >"$TMP/o2" 2>"$TMP/e" ||
    addwhy "second run: exit status $?: $(head -c 300 "$TMP/e")"
n=$(sqlite3 "$D2" "select count(*) from runs where status = 'done'" 2>&1)
[ "$n" = 2 ] || addwhy "$n done runs rows, expected 2"
r1=$(cat "$TMP/o1")
r2=$(cat "$TMP/o2")
[ -n "$r1" ] && [ "$r1" != "$r2" ] || addwhy "report paths '$r1' and '$r2'"
[ -f "$r1" ] && [ -f "$r2" ] || addwhy "a report is missing: '$r1' '$r2'"
n=$(find "$TMP/twice" -name report.md | wc -l)
[ "$n" -eq 2 ] || addwhy "$n report.md files under $TMP/twice"
n=$(sqlite3 "$D2" "select count(distinct run_id) from metrics" 2>&1)
[ "$n" = 2 ] || addwhy "metrics rows for $n runs"
report "two runs of one scenario give two runs rows and two report folders"

# DeepSeek's published day (deepseek-ai/open-infra-index, Day 6): 226.75 nodes on average at
# $2/GPU-h ($87,072), revenue $562,027 at R1 prices, 545% markup. Sized for peak, the fleet is
# 227 nodes = 1816 GPUs: 1816 x 24 h x $2 = $87,168.
id=$(sqlite3 "$D2" "select min(id) from runs")
m() { sqlite3 "$D2" "select value from metrics where run_id = $id and fleet = 'rent-r1-prices' and metric = '$1'" 2>&1; }
# in_range VALUE LOW HIGH: exit status 0 when LOW <= VALUE <= HIGH.
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v + 0 == v && v >= lo && v <= hi) }'; }

why=
v=$(m chips)
in_range "$v" 1816 1816 || addwhy "chips = '$v'"
report "deepseek-day-margin: rent-r1-prices has 1816 chips"

why=
v=$(m usd_per_day)
in_range "$v" 87167.99 87168.01 || addwhy "usd_per_day = '$v'"
report "deepseek-day-margin: rent-r1-prices costs 87168 USD per day (1816 x 24 x 2)"

why=
v=$(m markup)
in_range "$v" 5.44 5.45 || addwhy "markup = '$v'"
report "deepseek-day-margin: rent-r1-prices markup is between 5.44 and 5.45"

why=
v=$(m revenue_usd_per_day)
in_range "$v" 561464.973 562589.027 || addwhy "revenue_usd_per_day = '$v'"
report "deepseek-day-margin: rent-r1-prices revenue is 562027 USD per day within 0.1%"

[ "$failed" -eq 0 ]
