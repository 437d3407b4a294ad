#!/bin/sh
# End-to-end: four `tokensim run` processes writing one database at the same time all succeed,
# every run is `done` with all its rows, and the database passes PRAGMA integrity_check.
# Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-concurrency.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
DB="$TMP/shared.db"

why=
pids=""
i=0
for scn in scenarios/deepseek-day-margin.ini scenarios/uncertain-power.ini \
    scenarios/moe-vs-dense.ini scenarios/batch-size.ini; do
    i=$((i + 1))
    "$TS" run --quiet --db "$DB" --out "$TMP/out" "$scn" >"$TMP/o$i" 2>"$TMP/e$i" &
    pids="$pids $!"
done
i=0
for p in $pids; do
    i=$((i + 1))
    wait "$p" || addwhy "process $i failed: $(head -c 300 "$TMP/e$i")"
done
report "four runs into one database at once all succeed"

why=
[ "$(sqlite3 "$DB" "select count(*) from runs where status = 'done'")" = 4 ] ||
    addwhy "runs: $(sqlite3 "$DB" "select id, name, status from runs" | tr '\n' ' ')"
[ "$(sqlite3 "$DB" "select count(distinct id) from runs")" = 4 ] || addwhy "run ids are not distinct"
for name in deepseek-day-margin uncertain-power moe-vs-dense batch-size; do
    n=$(sqlite3 "$DB" "select count(*) from metrics m join runs r on r.id = m.run_id where r.name = '$name'")
    f=$(sqlite3 "$DB" "select count(*) from fleets f join runs r on r.id = f.run_id where r.name = '$name'")
    [ "$n" -gt 0 ] && [ "$f" -gt 0 ] || addwhy "$name: $n metrics rows, $f fleets"
done
pts=$(sqlite3 "$DB" "select count(*) from sweep_points p join runs r on r.id = p.run_id where r.name = 'batch-size'")
[ "$pts" -gt 0 ] || addwhy "batch-size sweep points missing"
[ "$(sqlite3 "$DB" "pragma integrity_check")" = ok ] || addwhy "integrity_check failed"
[ "$(ls -d "$TMP"/out/*/ | wc -l)" -eq 4 ] || addwhy "expected 4 report folders"
report "all four runs are done with their rows; integrity_check ok; four report folders"

[ "$failed" -eq 0 ]
