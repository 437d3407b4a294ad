#!/bin/sh
# End-to-end: `run --shard K/N` and `merge`. A Monte Carlo scenario (two fleets, 25000 samples:
# 25 blocks that 3 shards split 9/8/8) run whole and run as 3 shards merged gives the same
# metrics rows (value, p5, p50, p95, to the last bit), histograms and tornado, the same clamped
# and failed counts in the report; the parts are left unchanged; 1 shard of 1 merged gives the
# whole run too. merge refuses an existing OUT.db, a missing shard, a duplicated shard and parts
# of another scenario (exit 2, a message naming the problem, no OUT.db); --shard refuses bad K/N
# and scenarios without distributions (exit 2, no database).
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-shards.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
. tests/e2e/mc.inc
OUT=$TMP/out

if [ ! -x "$TS" ]; then
    echo "not ok - ./tokensim is built (run make build)"
    exit 1
fi

mc_scenario shard-test 11 >"$TMP/mc.ini"
sed 's/^seed = 11$/seed = 12/' "$TMP/mc.ini" >"$TMP/other.ini"

why=
expect 0 "$TS" run "$TMP/mc.ini" --db "$TMP/whole.db" --out "$OUT"
for k in 1 2 3; do
    expect 0 "$TS" run --shard "$k/3" "$TMP/mc.ini" --db "$TMP/p$k.db" --out "$OUT"
    grep -q "shard $k/3" "$TMP/o" || addwhy "shard $k/3 does not say which shard it ran"
done
n=$(sqlite3 "$TMP/p2.db" "select (select count(*) from metrics) || ' ' ||
    (select count(*) from mc_blocks) || ' ' || (select shard || '/' || n_shards || ' ' || samples
    from mc_shards) || ' ' || (select status from runs)" 2>&1)
# blocks 1, 4, ..., 22: 8 blocks of 2 fleets
[ "$n" = "0 16 2/3 25000 done" ] ||
    addwhy "part 2: metrics, blocks, shard, samples, status = '$n', want '0 16 2/3 25000 done'"
report "3 shards run, each a done run with its blocks and no metrics"

why=
sums=$(cksum "$TMP"/p1.db "$TMP"/p2.db "$TMP"/p3.db)
expect 0 "$TS" merge "$TMP/merged.db" "$TMP/p1.db" "$TMP/p2.db" "$TMP/p3.db" --out "$OUT"
grep -q '^report: ' "$TMP/o" || addwhy "merge prints no report path: $(head -c 200 "$TMP/o")"
[ "$sums" = "$(cksum "$TMP"/p1.db "$TMP"/p2.db "$TMP"/p3.db)" ] || addwhy "merge changed a part"
ls "$TMP"/p1.db-* >/dev/null 2>&1 && addwhy "merge left files beside the parts"
n=$(sqlite3 "$TMP/merged.db" "select count(*) || ' ' || min(status) || ' ' || min(kind) ||
    ' ' || min(seed) from runs" 2>&1)
[ "$n" = "1 done scenario 11" ] || addwhy "merged runs: '$n', want '1 done scenario 11'"
report "merge of the 3 parts makes one done run and leaves the parts as they were"

why=
identical "$TMP/whole.db" "$TMP/merged.db"
# 6 per fleet, less fleet b's energy_usd_per_m_output (rented with power included: NULL)
n=$(sqlite3 "$TMP/merged.db" "select count(*) from metrics where p50 is not null" 2>&1)
[ "$n" = 11 ] || addwhy "$n metrics with percentiles, want 11"
report "merged metrics, histograms, tornado and fleets equal the single run's"

why=
a=$(mc_line "$TMP/whole.db")
b=$(mc_line "$TMP/merged.db")
case $a in
*" 0 draws were clamped"* | "") addwhy "the single run should clamp some draws: '$a'" ;;
esac
case $a in
*"Fleet a could not be priced in "*) ;;
*) addwhy "the single run should fail some samples of fleet a: '$a'" ;;
esac
[ "$a" = "$b" ] || addwhy "reports differ: '$a' against '$b'"
report "merged report counts the same clamped draws and failed samples"

why=
expect 0 "$TS" run --shard 1/1 "$TMP/mc.ini" --db "$TMP/one.db" --out "$OUT"
expect 0 "$TS" merge "$TMP/one-merged.db" "$TMP/one.db" --out "$OUT"
identical "$TMP/whole.db" "$TMP/one-merged.db"
report "1 shard of 1 merged equals the single run"

# refused WHAT WANT OUT PART...: merge exits 2 with a message matching WANT and writes no OUT
refused() {
    what=$1
    want=$2
    out=$3
    shift 3
    why=
    expect 2 "$TS" merge "$out" "$@" --out "$OUT"
    grep -q "$want" "$TMP/e" || addwhy "message: $(head -c 300 "$TMP/e")"
    [ ! -e "$out" ] || addwhy "a refused merge wrote $out"
    report "merge refuses $what"
}

why=
before=$(cksum "$TMP/merged.db")
expect 2 "$TS" merge "$TMP/merged.db" "$TMP/p1.db" "$TMP/p2.db" "$TMP/p3.db" --out "$OUT"
grep -q "merged.db exists; merge writes a new database" "$TMP/e" ||
    addwhy "message: $(head -c 300 "$TMP/e")"
[ "$before" = "$(cksum "$TMP/merged.db")" ] || addwhy "the refused merge changed OUT.db"
report "merge refuses an existing OUT.db and leaves it as it was"

refused "a missing shard (2 of 3 parts)" "shard 2/3 is missing: merge needs all 3 parts, got 2" \
    "$TMP/m1.db" "$TMP/p1.db" "$TMP/p3.db"
refused "a duplicated shard" "p3.db is given twice" \
    "$TMP/m2.db" "$TMP/p1.db" "$TMP/p3.db" "$TMP/p2.db" "$TMP/p3.db"
cp "$TMP/p3.db" "$TMP/p3-copy.db"
refused "two copies of one shard" "p3.db and .*p3-copy.db are both shard 3/3" \
    "$TMP/m3.db" "$TMP/p1.db" "$TMP/p3.db" "$TMP/p3-copy.db"
"$TS" run --shard 3/3 "$TMP/other.ini" --db "$TMP/o3.db" --out "$OUT" >/dev/null 2>&1
refused "parts of different scenarios" "o3.db is a shard of another scenario than" \
    "$TMP/m4.db" "$TMP/p1.db" "$TMP/p2.db" "$TMP/o3.db"
refused "a database that holds no shard run" "whole.db holds no finished shard run" \
    "$TMP/m5.db" "$TMP/whole.db"

why=
for bad in 0/3 4/3 3 1/0 1/10001 a/b 2/3x; do
    expect 2 "$TS" run --shard "$bad" "$TMP/mc.ini" --db "$TMP/bad.db" --out "$OUT"
    grep -q -- "--shard: expected K/N with 1 <= K <= N <= 10000" "$TMP/e" ||
        addwhy "--shard $bad: $(head -c 200 "$TMP/e")"
done
[ ! -e "$TMP/bad.db" ] || addwhy "a refused --shard created the database"
report "--shard refuses K/N outside 1 <= K <= N <= 10000 and junk"

why=
expect 2 "$TS" run --shard 1/2 scenarios/chips-h100-h20-910b.ini --db "$TMP/det.db" --out "$OUT"
grep -q "has none: run it without --shard" "$TMP/e" || addwhy "message: $(head -c 300 "$TMP/e")"
[ ! -e "$TMP/det.db" ] || addwhy "a refused --shard created the database"
report "--shard refuses a scenario without distributions"

[ "$failed" -eq 0 ]
