#!/bin/sh
# End-to-end: the SQL views for people (v_fleet_summary, v_price_curve) return the same numbers
# as the metrics and sweep_points tables they pivot, for a Monte Carlo + sweep scenario and a
# plain one in the same database; `tokensim runs` lists them. Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-views.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
DB="$TMP/v.db"
q() { sqlite3 -batch "$DB" "$1" 2>&1; }

why=
for scn in scenarios/uncertain-power.ini scenarios/deepseek-day-margin.ini; do
    "$TS" run --quiet --db "$DB" --out "$TMP/out" "$scn" >/dev/null 2>"$TMP/e" ||
        addwhy "run $scn failed: $(head -c 300 "$TMP/e")"
done
report "two scenarios run into one database"

why=
n=$(q "SELECT count(*) FROM v_fleet_summary")
want=$(q "SELECT count(*) FROM fleets")
[ "$n" = "$want" ] || addwhy "v_fleet_summary has $n rows, fleets has $want"
[ "$n" -ge 5 ] 2>/dev/null || addwhy "expected at least 5 fleets, got $n"
report "v_fleet_summary has one row per fleet and run"

why=
for col in chips batch decode_tok_s_per_chip usd_per_m_input usd_per_m_output \
    usd_per_m_blended energy_usd_per_m_output j_per_output_token usd_per_day \
    facility_power_kw utilization_needed gross_margin; do
    bad=$(q "SELECT count(*) FROM v_fleet_summary v LEFT JOIN metrics m
             ON m.run_id = v.run_id AND m.fleet = v.fleet AND m.metric = '$col'
             WHERE v.$col IS NOT m.value")
    [ "$bad" = 0 ] || addwhy "column $col differs from metrics in $bad rows ($bad)"
done
bad=$(q "SELECT count(*) FROM v_fleet_summary v JOIN metrics m
         ON m.run_id = v.run_id AND m.fleet = v.fleet AND m.metric = 'usd_per_m_output'
         WHERE v.usd_per_m_output_p5 IS NOT m.p5 OR v.usd_per_m_output_p95 IS NOT m.p95")
[ "$bad" = 0 ] || addwhy "P5/P95 differ from metrics in $bad rows"
mc=$(q "SELECT count(*) FROM v_fleet_summary WHERE run = 'uncertain-power'
        AND usd_per_m_output_p5 < usd_per_m_output AND usd_per_m_output < usd_per_m_output_p95")
[ "$mc" = 2 ] || addwhy "Monte Carlo fleets with P5 < mean < P95: $mc, want 2"
report "v_fleet_summary columns equal the metrics rows (values, P5, P95)"

why=
n=$(q "SELECT count(*) FROM v_price_curve")
want=$(q "SELECT count(*) FROM sweep_points WHERE param = 'usd_per_kwh'
          AND metric = 'usd_per_m_output'")
[ "$n" = "$want" ] && [ "$n" -gt 0 ] 2>/dev/null || addwhy "v_price_curve has $n rows, want $want (> 0)"
bad=$(q "SELECT count(*) FROM v_price_curve v JOIN sweep_points p ON p.run_id = v.run_id
         AND p.fleet = v.fleet AND p.x = v.usd_per_kwh AND p.param = 'usd_per_kwh'
         AND p.metric = 'usd_per_m_output' WHERE v.usd_per_m_output IS NOT p.value")
[ "$bad" = 0 ] || addwhy "usd_per_m_output differs from sweep_points in $bad rows"
rising=$(q "SELECT count(*) FROM v_price_curve a JOIN v_price_curve b ON a.run_id = b.run_id
            AND a.fleet = b.fleet AND b.usd_per_kwh > a.usd_per_kwh
            WHERE b.usd_per_m_output <= a.usd_per_m_output")
[ "$rising" = 0 ] || addwhy "owned fleets: \$/M output should rise with the power price ($rising pairs do not)"
report "v_price_curve equals the sweep points and rises with the electricity price"

why=
"$TS" runs --db "$DB" >"$TMP/o" 2>"$TMP/e" || addwhy "runs failed: $(cat "$TMP/e")"
head -1 "$TMP/o" | grep -q "id  kind" || addwhy "no header line: $(head -1 "$TMP/o")"
[ "$(sed -n 2p "$TMP/o" | awk '{print $1, $2, $3}')" = "2 scenario done" ] ||
    addwhy "row 1 should be run 2 (newest first): $(sed -n 2p "$TMP/o")"
[ "$(sed -n 3p "$TMP/o" | awk '{print $1, $2, $3}')" = "1 sweep done" ] ||
    addwhy "row 2 should be run 1, a sweep: $(sed -n 3p "$TMP/o")"
grep -q "uncertain-power" "$TMP/o" || addwhy "names missing"
"$TS" runs --db "$DB" --limit 1 >"$TMP/o" 2>&1
[ "$(wc -l <"$TMP/o")" -eq 2 ] || addwhy "--limit 1 printed $(wc -l <"$TMP/o") lines, want 2"
report "runs lists runs newest first with id, kind, status, times and name; --limit"

why=
esc=$(printf 'a\033[31mred')
sed "s/^name = .*/name = $esc/" scenarios/deepseek-day-margin.ini >"$TMP/esc.ini"
"$TS" run --quiet --db "$DB" --out "$TMP/out" "$TMP/esc.ini" >/dev/null 2>"$TMP/e"
rc=$?
[ "$rc" -eq 2 ] || addwhy "run of a scenario named with ESC: exit $rc, expected 2 (refused)"
grep -q 'control character \\x1b' "$TMP/e" || addwhy "refusal does not spell ESC: $(cat "$TMP/e")"
# a name with ESC can only come from a database edited by hand: runs spells it \x1b
last=$(sqlite3 "$DB" "select max(id) from runs")
sqlite3 "$DB" "update runs set name = '$esc' where id = $last"
"$TS" runs --db "$DB" --limit 1 >"$TMP/o" 2>&1
if grep -q "$(printf '\033')" "$TMP/o"; then addwhy "runs printed a raw ESC from a scenario name"; fi
grep -q 'a\\x1b\[31mred' "$TMP/o" || addwhy "name not shown with \\x1b for ESC: $(cat "$TMP/o")"
report "a scenario name with ESC is refused; runs spells one from an edited database as \\x1b"

why=
"$TS" runs --db "$TMP/none.db" >"$TMP/o" 2>"$TMP/e"
rc=$?
[ "$rc" -ne 0 ] || addwhy "exit 0 for a missing database"
grep -q "^tokensim: .*none.db" "$TMP/e" || addwhy "no message naming the file: $(cat "$TMP/e")"
[ ! -e "$TMP/none.db" ] || addwhy "runs created the database"
"$TS" runs --db "$DB" --limit 0 >/dev/null 2>&1
[ $? -eq 2 ] || addwhy "--limit 0 should be a usage error (2)"
report "runs: a missing database is an error naming it and is not created; --limit 0 exits 2"

[ "$failed" -eq 0 ]
