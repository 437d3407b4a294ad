#!/bin/sh
# End-to-end: `mpirun -np N tokensim run` (the make MPI=1 build, build/mpi/tokensim). A Monte
# Carlo scenario (two fleets, 25000 samples: 25 blocks) and a 2-D sweep run serially (plain
# build), under mpirun -np 1, 2 and 3 (--oversubscribe: this machine may have fewer cores) and
# as 2 shards merged give the same metric rows (value, p5, p50, p95 to the last bit), histograms,
# tornado and sweep points; output comes from rank 0 only; the test hook TOKENSIM_TEST_FAIL_RANK
# makes one rank fail, and then the run is `failed` with a message naming the rank and no
# results; under mpirun, --shard and other commands are refused. The plain build's own hook
# (rank 0 of 1) is checked always; the mpirun parts are skipped when build/mpi/tokensim or
# mpirun is missing (make test builds it whenever mpicc is installed).
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-mpi.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
. tests/e2e/mc.inc
OUT=$TMP/out
MPI_TS=build/mpi/tokensim
unset TOKENSIM_TEST_FAIL_RANK

if [ ! -x "$TS" ]; then
    echo "not ok - ./tokensim is built (run make build)"
    exit 1
fi
# Open MPI refuses to start as root unless told that it is meant
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# containers often forbid the cross-process reads (CMA) Open MPI's shared memory uses by default
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

# identical plus the runs rows: the same scenario, stored as done
identical_run() {
    same "runs" "$1" "$2" "select status, kind, name, seed, scenario_sha256 from runs"
    identical "$1" "$2"
}

same_sweep() {
    same "sweep points" "$1" "$2" "select fleet, param, quote(x), param2, quote(y), metric,
        quote(value) from sweep_points order by rowid"
    same "sweep metrics" "$1" "$2" "select fleet, metric, quote(value) from metrics
        order by fleet, metric"
}

mc_scenario mpi-test 21 >"$TMP/mc.ini"
cat >"$TMP/sweep.ini" <<'EOF'
; a 10 x 3 grid of points over two fleets, no distributions
[scenario]
name = mpi-sweep

[workload]
model = llama-3.1-8b
input_tokens_per_day = 1e9
output_tokens_per_day = 1e9

[fleet own]
chip = h100-sxm
decode_tok_s_per_chip = 1000
prefill_tok_s_per_chip = 10000
usd_per_kwh = 0.08

[fleet other]
chip = h100-sxm
cost = rent
rent_usd_per_chip_hour = 2
decode_tok_s_per_chip = 900
prefill_tok_s_per_chip = 12000
usd_per_kwh = 0.08

[sweep]
over = usd_per_kwh
values = 0.02..0.20 step 0.02
over2 = fleet other.rent_usd_per_chip_hour
values2 = 0.4, 0.6, 0.8
EOF

why=
expect 0 "$TS" run "$TMP/mc.ini" --db "$TMP/serial.db" --out "$OUT"
expect 0 "$TS" run "$TMP/sweep.ini" --db "$TMP/serial-sweep.db" --out "$OUT"
n=$(sqlite3 "$TMP/serial-sweep.db" "select count(*) from sweep_points" 2>&1)
[ "$n" = 840 ] || addwhy "serial sweep: $n points rows, want 840 (30 points, 2 fleets, 14 metrics)"
report "serial runs of the Monte Carlo scenario and the sweep (the reference)"

why=
TOKENSIM_TEST_FAIL_RANK=0 expect 1 "$TS" run "$TMP/mc.ini" --db "$TMP/hook.db" --out "$OUT"
grep -q 'TOKENSIM_TEST_FAIL_RANK=0' "$TMP/e" || addwhy "no message naming the hook: $(cat "$TMP/e")"
grep -q 'marked failed' "$TMP/e" || addwhy "does not say the run is marked failed"
n=$(sqlite3 "$TMP/hook.db" "select status || ' ' || (error like '%TOKENSIM_TEST_FAIL_RANK%')
    || ' ' || (select count(*) from metrics) from runs" 2>&1)
[ "$n" = "failed 1 0" ] || addwhy "runs row: '$n', want 'failed 1 0' (status, error, metrics)"
report "plain build: TOKENSIM_TEST_FAIL_RANK=0 fails rank 0 of 1: a failed run, no metrics"

if [ ! -x "$MPI_TS" ] || ! command -v mpirun >/dev/null 2>&1; then
    for t in "mpirun -np 1, 2, 3 Monte Carlo rows equal the serial run's" \
        "mpirun -np 1, 2, 3 sweep rows equal the serial run's" \
        "mpirun output from rank 0 only" "a failing rank fails the Monte Carlo run" \
        "a failing rank fails the sweep run" "mpirun refuses --shard and other commands"; do
        echo "ok - $t # SKIP no $MPI_TS or no mpirun (make MPI=1 BIN=$MPI_TS $MPI_TS)"
    done
    exit 0
fi

MPIRUN="mpirun --oversubscribe"

why=
for n in 1 2 3; do
    expect 0 $MPIRUN -np $n "$MPI_TS" run "$TMP/mc.ini" --db "$TMP/np$n.db" --out "$OUT"
    identical_run "$TMP/serial.db" "$TMP/np$n.db"
    [ "$(mc_line "$TMP/serial.db")" = "$(mc_line "$TMP/np$n.db")" ] ||
        addwhy "-np $n report: '$(mc_line "$TMP/np$n.db")', serial '$(mc_line "$TMP/serial.db")'"
done
case $(mc_line "$TMP/serial.db") in
*"25000 samples"*) ;;
*) addwhy "serial report's Monte Carlo line: '$(mc_line "$TMP/serial.db")'" ;;
esac
for k in 1 2; do
    expect 0 "$TS" run --shard "$k/2" "$TMP/mc.ini" --db "$TMP/part$k.db" --out "$OUT"
done
expect 0 "$TS" merge "$TMP/merged.db" "$TMP/part1.db" "$TMP/part2.db" --out "$OUT"
identical_run "$TMP/merged.db" "$TMP/np2.db"
report "mpirun -np 1, 2, 3 Monte Carlo rows equal the serial run's and 2 shards merged"

why=
for n in 1 2 3; do
    expect 0 $MPIRUN -np $n "$MPI_TS" run "$TMP/sweep.ini" --db "$TMP/sw$n.db" --out "$OUT"
    same_sweep "$TMP/serial-sweep.db" "$TMP/sw$n.db"
done
report "mpirun -np 1, 2, 3 sweep rows equal the serial run's"

why=
expect 0 $MPIRUN -np 3 "$MPI_TS" run "$TMP/mc.ini" --db "$TMP/once.db" --out "$OUT"
[ "$(grep -c '^database: ' "$TMP/o")" = 1 ] || addwhy "$(grep -c '^database: ' "$TMP/o") database lines"
grep -q '^ranks: *3' "$TMP/o" || addwhy "no 'ranks: 3' line"
grep -q 'Monte Carlo: .*receiving 16 messages' "$TMP/o" ||
    addwhy "rank 0 should receive 16 of 25 blocks: $(grep 'Monte Carlo:' "$TMP/o")"
[ "$(sqlite3 "$TMP/once.db" "select count(*) from runs")" = 1 ] || addwhy "not one runs row"
report "mpirun output from rank 0 only, one run, with what rank 0 received"

why=
TOKENSIM_TEST_FAIL_RANK=1 expect nonzero $MPIRUN -np 3 "$MPI_TS" run "$TMP/mc.ini" \
    --db "$TMP/fail.db" --out "$OUT"
grep -q '^tokensim: rank 1 of 3: failure injected by TOKENSIM_TEST_FAIL_RANK=1' "$TMP/e" ||
    addwhy "no message naming rank 1: $(grep tokensim "$TMP/e" | head -3)"
[ "$(grep -c '^tokensim: ' "$TMP/e")" = 2 ] || addwhy "expected 2 tokensim lines (rank 0 only)"
n=$(sqlite3 "$TMP/fail.db" "select status || ' ' || kind || ' ' || (error like 'rank 1 of 3:%')
    from runs; select count(*) from metrics; select count(*) from histograms" 2>&1 | tr '\n' ' ')
[ "$n" = "failed scenario 1 0 0 " ] || addwhy "runs, metrics, histograms: '$n'"
report "a failing rank fails the Monte Carlo run: a failed run row naming the rank, no rows"

why=
TOKENSIM_TEST_FAIL_RANK=2 expect nonzero $MPIRUN -np 3 "$MPI_TS" run "$TMP/sweep.ini" \
    --db "$TMP/failsw.db" --out "$OUT"
grep -q 'rank 2 of 3: failure injected' "$TMP/e" || addwhy "no message naming rank 2"
n=$(sqlite3 "$TMP/failsw.db" "select status || ' ' || kind from runs;
    select count(*) from sweep_points" 2>&1 | tr '\n' ' ')
[ "$n" = "failed sweep 0 " ] || addwhy "runs, sweep points: '$n'"
report "a failing rank fails the sweep run: a failed run row, no sweep points"

why=
expect 2 $MPIRUN -np 2 "$MPI_TS" run --shard 1/2 "$TMP/mc.ini" --db "$TMP/shard.db" --out "$OUT"
grep -q 'drop --shard' "$TMP/e" || addwhy "--shard: $(head -c 200 "$TMP/e")"
[ -e "$TMP/shard.db" ] && addwhy "--shard under mpirun made a database"
expect 2 $MPIRUN -np 2 "$MPI_TS" check "$TMP/mc.ini"
[ "$(grep -c 'only `tokensim run`' "$TMP/e")" = 1 ] || addwhy "check: $(head -c 200 "$TMP/e")"
report "mpirun refuses --shard and other commands than run (exit 2, one message)"

exit "$failed"
