#!/bin/sh
# MPI benchmark (make bench, when Open MPI is installed): `mpirun -np 1` and `-np 2` of the MPI
# build (build/mpi/tokensim) on scenarios/uncertain-power.ini (its [sweep] and [compare] removed)
# at SAMPLES samples (default 2,000,000), REPEAT times each, alternating, best time kept (the
# machine is shared: ratios from one run), and -np 1 at a quarter of the samples, to split the
# serial part of the command into a fixed cost and a cost per sample. Appends to BENCHMARKS.md (or $1) samples/s of the
# whole command and of the sampling phase (rank 0's own blocks + waiting + gather), the parallel
# efficiency, the measured per-block cost and gather size, and from them the expected scaling
# to 64 ranks (a model, printed as such).
set -u
cd "$(dirname "$0")/.." || exit 1
out=${1:-BENCHMARKS.md}
SAMPLES=${SAMPLES:-2000000}
REPEAT=${REPEAT:-3}
TS=build/mpi/tokensim
if [ ! -x "$TS" ] || ! command -v mpirun >/dev/null 2>&1; then
    echo "bench-mpi: no $TS or mpirun (make MPI=1 BIN=$TS $TS); skipped" >&2
    exit 0
fi
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-bench-mpi.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
sed -e "s/^samples = .*/samples = $SAMPLES/" -e '/^\[sweep\]/,$d' scenarios/uncertain-power.ini \
    >"$TMP/mc.ini"

# one NP [quarter]: prints "wall compute wait gather bytes messages cpu" of one run (cpu: user +
# system seconds of mpirun and every rank)
one() {
    rm -rf "$TMP/run.db" "$TMP/out"
    ini=$TMP/${2:-mc}.ini
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$TMP/cpu" mpirun --oversubscribe -np "$1" "$TS" run \
        --db "$TMP/run.db" --out "$TMP/out" "$ini" >"$TMP/o" 2>"$TMP/e" ||
        { cat "$TMP/e" >&2; exit 1; }
    t1=$(date +%s.%N)
    cpu=$(awk '{ print $1 + $2 }' "$TMP/cpu")
    # "  Monte Carlo: rank 0's own items C s, waiting for the others W s, receiving M messages
    # (B MB) G s"
    awk -v a="$t0" -v b="$t1" -v cpu="$cpu" '/^  Monte Carlo:/ {
        gsub(/[(),]/, " ");
        for (i = 1; i <= NF; i++) {
            if ($i == "items") c = $(i + 1);
            if ($i == "others") w = $(i + 1);
            if ($i == "receiving") { m = $(i + 1); mb = $(i + 3); g = $(i + 5) }
        }
        printf "%.4f %s %s %s %.0f %s %s\n", b - a, c, w, g, mb * 1e6, m, cpu }' "$TMP/o"
}

# a quarter of the samples, one rank: how the part outside sampling grows with the samples
QUARTER=$((SAMPLES / 4))
sed -e "s/^samples = .*/samples = $QUARTER/" "$TMP/mc.ini" >"$TMP/quarter.ini"
: >"$TMP/r1"
: >"$TMP/r2"
: >"$TMP/rq"
i=0
while [ "$i" -lt "$REPEAT" ]; do
    one 1 >>"$TMP/r1"
    one 2 >>"$TMP/r2"
    one 1 quarter >>"$TMP/rq"
    i=$((i + 1))
done
# the best (shortest wall) run of each
best1=$(sort -n "$TMP/r1" | head -1)
best2=$(sort -n "$TMP/r2" | head -1)
bestq=$(sort -n "$TMP/rq" | head -1)
[ -n "$best1" ] && [ -n "$best2" ] && [ -n "$bestq" ] || { echo "bench-mpi: no timings" >&2; exit 1; }

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')
{
    echo
    echo "## MPI ranks (commit \`$commit\`, $(date -u +%Y-%m-%d), ${cpu:-unknown CPU}, $(nproc) cores, Open MPI $(mpirun --version 2>/dev/null | head -1 | awk '{print $NF}'))"
    echo
    echo "\`mpirun --oversubscribe -np N build/mpi/tokensim run\` (make MPI=1) on"
    echo "scenarios/uncertain-power.ini (two fleets, eight uncertain inputs; its [sweep] and [compare]"
    echo "removed) at $SAMPLES samples, best of $REPEAT alternating runs. *Whole* is the wall time of the"
    echo "command (mpirun start, parse, sampling, gather, percentiles, tornado, histograms, database,"
    echo "report and plots); *sampling* is rank 0's own blocks + waiting for the other ranks + the"
    echo "gather, as the run prints it. Efficiency = speed-up / N. This machine is shared with other"
    echo "work (load average ${load:-unknown} at the end), so wall times are noisy and 2 ranks may not"
    echo "get 2 cores; the ratios come from one run. *CPU s* (user + system of mpirun and every rank)"
    echo "shows what spreading costs in work whatever the load: work efficiency = CPU at 1 rank / CPU"
    echo "at N ranks (MPI spins while it waits, so waiting counts as work here)."
    echo
    awk -v n="$SAMPLES" -v r1="$best1" -v r2="$best2" 'BEGIN {
        split(r1, a, " "); split(r2, b, " ");
        s1 = a[2] + a[3] + a[4]; s2 = b[2] + b[3] + b[4];
        print "| ranks | whole s | whole samples/s | sampling s | sampling samples/s | efficiency (whole) | efficiency (sampling) | CPU s, all ranks | CPU per sample (work efficiency) | received by rank 0 |";
        print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
        printf "| 1 | %.2f | %.0f | %.3f | %.0f | 100%% | 100%% | %.2f | %.2f us (100%%) | 0 |\n", a[1],
            n / a[1], s1, n / s1, a[7], 1e6 * a[7] / n;
        printf "| 2 | %.2f | %.0f | %.3f | %.0f | %.0f%% | %.0f%% | %.2f | %.2f us (%.0f%%) | %d blocks, %.1f MB in %.3f s |\n",
            b[1], n / b[1], s2, n / s2, 100 * a[1] / (2 * b[1]), 100 * s1 / (2 * s2), b[7],
            1e6 * b[7] / n, 100 * a[7] / b[7], b[6], b[5] / 1e6, b[4];
    }'
    echo
    echo "### Expected scaling to 64 ranks (a model from the numbers above, not a measurement)"
    echo
    awk -v n="$SAMPLES" -v r1="$best1" -v r2="$best2" -v rq="$bestq" '
    function ceil(x) { return x == int(x) ? x : int(x) + 1 }
    BEGIN {
        split(r1, a, " "); split(r2, b, " "); split(rq, q, " ");
        blocks = ceil(n / 1000);
        tb = a[2] / blocks;                        # one block on one core
        tail1 = a[1] - (a[2] + a[3] + a[4]);       # not sampling, on rank 0, at n samples
        tailq = q[1] - (q[2] + q[3] + q[4]);       # the same at n / 4
        per_s = (tail1 - tailq) / (0.75 * n);      # its part that grows with the samples
        if (per_s < 0) per_s = 0;
        fixed = tail1 - per_s * n;
        if (fixed < 0) fixed = 0;
        per = b[5] / b[6];                         # bytes of one block message
        bw = b[4] > 0 ? b[5] / b[4] : 1e10;        # rank 0 intake measured here
        bwn = bw < 1.25e9 ? bw : 1.25e9;           # over 10 GbE: the slower of the two
        met = ((per / 8 - 1) / 2 - 6001) / 2;      # metrics per fleet in the message
        printf "Measured: %.3f ms per block of 1000 samples (%.2f us per sample) on one rank; a block\n", tb * 1e3, tb * 1e3;
        printf "message is %.1f kB (two fleets, each 6 kept metrics x 1000 samples + %d sums + %d counts\n", per / 1e3, met, met;
        printf "+ its failures, as doubles); rank 0 took blocks in at %.2f GB/s here (shared memory,\n", bw / 1e9;
        printf "packing and unpacking included). The part of the command that is not sampling (mpirun\n";
        printf "start-up, parsing, percentiles, histograms, tornado, database, report, plots; all on rank\n";
        printf "0) took %.2f s at %d samples and %.2f s at %d: %.2f s + %.3f us per sample.\n", tail1, n, tailq, n / 4, fixed, per_s * 1e6;
        print "";
        print "T(N) = fixed + per sample x S + ceil(blocks / N) x block + (blocks - ceil(blocks / N)) x";
        print "message / bandwidth: the gather is serial at rank 0 and comes after the sampling (ranks";
        print "send when done); over 10 GbE the bandwidth is the lower of 1.25 GB/s and the rate here.";
        print "";
        print "| samples | N | sampling s | gather s (here / 10 GbE) | whole s (here / 10 GbE) | efficiency whole (here / 10 GbE) | efficiency of sampling + gather (here) |";
        print "|---:|---:|---:|---:|---:|---:|---:|";
        split("1 2 4 8 16 32 64", ns, " ");
        split(n " 16000000", ss, " ");
        for (j = 1; j <= 2; j++) {
            m = ss[j]; bl = ceil(m / 1000);
            tail = fixed + per_s * m;
            t1 = tail + bl * tb;
            for (i = 1; i <= 7; i++) {
                N = ns[i]; mine = ceil(bl / N);
                comp = mine * tb;
                g = (bl - mine) * per / bw; gn = (bl - mine) * per / bwn;
                w = tail + comp + g; wn = tail + comp + gn;
                printf "| %d | %d | %.3f | %.3f / %.3f | %.2f / %.2f | %.0f%% / %.0f%% | %.0f%% |\n",
                    m, N, comp, g, gn, w, wn, 100 * t1 / (N * w), 100 * t1 / (N * wn),
                    100 * (bl * tb) / (N * (comp + g));
            }
        }
    }'
    echo
    echo "The part outside sampling runs on rank 0 alone, and some of it grows with the samples"
    echo "(percentiles by selection over every kept sample, histograms, copying blocks in): for this"
    echo "scenario, cheap per sample, it bounds the speed-up (Amdahl) long before 64 ranks, more than"
    echo "the gather does. Scenarios that cost more per sample scale further, since neither the"
    echo "gather nor that part grows with the cost of a sample. 16,000,000 samples is about the most"
    echo "two fleets may keep (the 1.6 GB cap on the samples kept for exact percentiles, which rank 0"
    echo "holds whole)."
} >>"$out"
echo "tokensim: appended the MPI table to $out" >&2
