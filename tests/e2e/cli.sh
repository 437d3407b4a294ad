#!/bin/sh
# End-to-end: the command line. Help and version, usage errors (exit 2, `tokensim: ` on
# stderr), a missing scenario file (exit 1, runtime), and how catalogs are found: --data,
# $TOKENSIM_DATA, and the folder beside the program when run from another working directory.
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
ROOT=$(pwd)
SCN=scenarios/deepseek-day-margin.ini
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-cli.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM


if [ ! -x "$TS" ]; then
    echo "not ok - ./tokensim is built (run make build)"
    exit 1
fi

# t STATUS ARGS...: runs tokensim with ARGS (stdout to $TMP/o, stderr to $TMP/e) and starts
# $why with a complaint unless it exits with STATUS.
t() {
    want=$1
    shift
    why=
    "$TS" "$@" >"$TMP/o" 2>"$TMP/e"
    rc=$?
    [ "$rc" -eq "$want" ] || addwhy "exit status $rc, expected $want"
}
has_out() { grep -qF -- "$1" "$TMP/o" || addwhy "stdout lacks: $1 (got: $(head -c 300 "$TMP/o" | tr '\n' '|'))"; }
has_err() { grep -qF -- "$1" "$TMP/e" || addwhy "stderr lacks: $1 (got: $(head -c 300 "$TMP/e" | tr '\n' '|'))"; }
err_prefixed() {
    case $(head -n 1 "$TMP/e") in
    'tokensim: '*) ;;
    *) addwhy "stderr does not start with 'tokensim: ' (got: $(head -n 1 "$TMP/e"))" ;;
    esac
}
no_runs() { # $1 = database path: it must not exist or hold no runs row
    if [ -f "$1" ]; then
        n=$(sqlite3 "$1" "select count(*) from runs" 2>/dev/null) || n=0
        [ "${n:-0}" -eq 0 ] || addwhy "$1 has $n runs row(s)"
    fi
}

t 0 --help
has_out "usage: tokensim"
has_out "run SCENARIO.ini"
has_out "check SCENARIO.ini"
report "--help exits 0 and prints usage"

t 0 -h
has_out "usage: tokensim"
report "-h exits 0 and prints usage"

t 0 --version
grep -Eq '^tokensim [0-9]+\.[0-9]+\.[0-9]+' "$TMP/o" || addwhy "stdout: $(cat "$TMP/o")"
report "--version exits 0 and prints 'tokensim X.Y.Z'"

t 0 -V
grep -Eq '^tokensim [0-9]+\.[0-9]+\.[0-9]+' "$TMP/o" || addwhy "stdout: $(cat "$TMP/o")"
report "-V exits 0 and prints the version"

t 0 run --help
has_out "usage: tokensim run"
has_out "--db"
has_out "--out"
has_out "--data"
report "run --help exits 0 and prints run's usage"

t 0 check --help
has_out "usage: tokensim check"
report "check --help exits 0 and prints check's usage"

t 0 help run
has_out "usage: tokensim run"
report "help run exits 0 and prints run's usage"

t 2
has_err "usage: tokensim"
report "no command exits 2 with usage on stderr"

t 2 frobnicate
err_prefixed
has_err "unknown command 'frobnicate'"
report "an unknown command exits 2"

t 2 run --db "$TMP/frob.db" --out "$TMP/out" --frob "$SCN"
err_prefixed
has_err "--frob"
no_runs "$TMP/frob.db"
report "an unknown option of run exits 2 with 'tokensim: '"

t 2 check --frob "$SCN"
err_prefixed
has_err "--frob"
report "an unknown option of check exits 2 with 'tokensim: '"

t 2 check --shard 1/2 "$SCN"
err_prefixed
has_err "does not take --shard"
report "check --shard names the option it does not take, not its value"

t 0 check --db "$TMP/x.db" "$SCN"
[ ! -e "$TMP/x.db" ] || addwhy "check created the database"
report "check takes --db (for measured fleets) and never creates it"

t 2 run --db
err_prefixed
report "run --db without a value exits 2"

t 2 run --db "$TMP/none.db" --out "$TMP/out"
err_prefixed
has_err "scenario"
no_runs "$TMP/none.db"
report "run without a scenario file exits 2"

t 2 check
err_prefixed
report "check without a scenario file exits 2"

t 2 run --db "$TMP/two.db" --out "$TMP/out" "$SCN" "$SCN"
err_prefixed
no_runs "$TMP/two.db"
report "run with two scenario files exits 2"

t 1 run --db "$TMP/missing.db" --out "$TMP/out" "$TMP/no-such-file.ini"
err_prefixed
has_err "cannot open"
has_err "$TMP/no-such-file.ini"
no_runs "$TMP/missing.db"
[ ! -d "$TMP/out" ] || [ -z "$(find "$TMP/out" -name report.md)" ] || addwhy "a report was written"
report "run with a missing scenario file exits 1 ('cannot open')"

t 1 check "$TMP/no-such-file.ini"
err_prefixed
has_err "cannot open"
report "check with a missing scenario file exits 1 ('cannot open')"

mkdir "$TMP/a-folder.ini"
t 1 check "$TMP/a-folder.ini"
err_prefixed
has_err "$TMP/a-folder.ini"
report "check of a folder exits 1 with a message naming it"

# Catalogs: a folder without them, and a copy with one extra chip that only it knows.
mkdir "$TMP/nocat" "$TMP/cat" "$TMP/elsewhere"
cp data/*.csv "$TMP/cat/"
sed -n '/^h100-sxm,/s/^h100-sxm,/e2e-only-chip,/p' data/chips.csv >>"$TMP/cat/chips.csv"
cat >"$TMP/own-chip.ini" <<'EOF'
[scenario]
name = own-chip

[workload]
model = llama-3.1-8b
input_tokens_per_day = 1e9
output_tokens_per_day = 1e9

[fleet a]
chip = e2e-only-chip
usd_per_kwh = 0.08
decode_tok_s_per_chip = 1000
prefill_tok_s_per_chip = 10000
EOF

why=
"$TS" check --data "$TMP/nocat" "$SCN" >"$TMP/o" 2>"$TMP/e"
rc=$?
[ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || addwhy "exit status $rc, expected 1 or 2"
err_prefixed
has_err "$TMP/nocat"
report "--data to a folder without catalogs fails with a message naming the folder"

why=
"$TS" run --data "$TMP/nocat" --db "$TMP/nocat.db" --out "$TMP/out" "$SCN" >"$TMP/o" 2>"$TMP/e"
rc=$?
[ "$rc" -eq 1 ] || [ "$rc" -eq 2 ] || addwhy "exit status $rc, expected 1 or 2"
has_err "$TMP/nocat"
no_runs "$TMP/nocat.db"
report "run --data to a folder without catalogs fails and records no run"

t 2 check "$TMP/own-chip.ini"
has_err "unknown chip 'e2e-only-chip'"
report "the shipped catalogs do not know the test chip"

t 0 check --data "$TMP/cat" "$TMP/own-chip.ini"
report "--data DIR reads the catalogs in DIR"

why=
TOKENSIM_DATA="$TMP/cat" "$TS" check "$TMP/own-chip.ini" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?, expected 0: $(head -c 300 "$TMP/e")"
report "TOKENSIM_DATA points tokensim at a catalog folder"

why=
TOKENSIM_DATA="$TMP/nocat" "$TS" check "$SCN" >"$TMP/o" 2>"$TMP/e"
st=$?
[ "$st" -eq 2 ] || addwhy "exit status $st, expected 2 (no silent fallback to ./data)"
grep -q "nocat" "$TMP/e" || addwhy "stderr does not name the folder: $(head -c 300 "$TMP/e")"
report "a TOKENSIM_DATA without catalogs is an error naming it, not a silent fallback"

why=
TOKENSIM_DATA="$TMP/nocat" "$TS" check --data "$TMP/cat" "$TMP/own-chip.ini" >"$TMP/o" \
    2>"$TMP/e" || addwhy "exit status $?, expected 0: $(head -c 300 "$TMP/e")"
report "--data wins over TOKENSIM_DATA"

why=
(cd "$TMP/elsewhere" && "$ROOT/tokensim" check "$ROOT/$SCN") >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?, expected 0: $(head -c 300 "$TMP/e")"
report "check from another working directory finds the catalogs beside the program"

why=
(cd "$TMP/elsewhere" && "$ROOT/tokensim" run -q --db "$TMP/else.db" --out "$TMP/else-out" \
    "$ROOT/$SCN") >"$TMP/o" 2>"$TMP/e" ||
    addwhy "exit status $?, expected 0: $(head -c 300 "$TMP/e")"
st=$(sqlite3 "$TMP/else.db" "select group_concat(status) from runs" 2>/dev/null)
[ "$st" = "done" ] || addwhy "runs status '$st', expected 'done'"
[ -f "$TMP/else-out/deepseek-day-margin-1/report.md" ] ||
    addwhy "no $TMP/else-out/deepseek-day-margin-1/report.md"
[ ! -e "$TMP/elsewhere/tokensim.db" ] || addwhy "wrote tokensim.db in the working directory"
report "run from another working directory finds the catalogs beside the program"

[ "$failed" -eq 0 ]
