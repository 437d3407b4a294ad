#!/bin/sh
# End-to-end: the SQL views for people (v_fleet_summary, v_price_curve) return the same numbers
# as the metrics and sweep_points tables they pivot, for a Monte Carlo + sweep scenario and a
# plain one in the same database. Prints TAP lines.
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

[ "$failed" -eq 0 ]
