#!/bin/sh
# End-to-end: a run killed with SIGKILL at any moment (during Monte Carlo sampling, storing or
# rendering) leaves the database passing PRAGMA integrity_check, the earlier run intact, and the
# killed run either absent or visibly not `done`. Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-kill.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
DB="$TMP/k.db"
sed 's/^samples = .*/samples = 400000/' scenarios/uncertain-power.ini >"$TMP/long.ini"

why=
"$TS" run --quiet --db "$DB" --out "$TMP/out" scenarios/deepseek-day-margin.ini >/dev/null 2>&1 ||
    addwhy "the first run failed"
before=$(sqlite3 "$DB" "select count(*) from metrics where run_id = 1")
report "an earlier run is stored"

for delay in 0.05 0.3 0.8 1.5 3; do
    why=
    "$TS" run --quiet --db "$DB" --out "$TMP/out" "$TMP/long.ini" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [ "$(sqlite3 "$DB" "pragma integrity_check")" = ok ] || addwhy "integrity_check failed"
    [ "$(sqlite3 "$DB" "select count(*) from metrics where run_id = 1")" = "$before" ] &&
        [ "$(sqlite3 "$DB" "select status from runs where id = 1")" = done ] ||
        addwhy "the earlier run changed"
    bad=$(sqlite3 "$DB" "select count(*) from runs r where r.id > 1 and r.status = 'done'
          and not exists (select 1 from metrics m where m.run_id = r.id)")
    [ "$bad" = 0 ] || addwhy "a run is done without its metrics"
    half=$(sqlite3 "$DB" "select count(*) from runs r where r.status <> 'done'
           and exists (select 1 from metrics m where m.run_id = r.id)")
    [ "$half" = 0 ] || addwhy "a run that is not done has metric rows"
    report "SIGKILL after ${delay}s: database intact, killed run absent, not done, or whole"
done

why=
"$TS" run --quiet --db "$DB" --out "$TMP/out" scenarios/deepseek-day-margin.ini >/dev/null 2>"$TMP/e" ||
    addwhy "a run after the kills failed: $(head -c 300 "$TMP/e")"
report "the database takes new runs after the kills"

[ "$failed" -eq 0 ]
