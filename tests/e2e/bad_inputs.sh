#!/bin/sh
# End-to-end: every scenario in tests/bad/ must be refused. Line 1 of each file is
# `; expect: TEXT`, TEXT being `:LINE: message` (a substring of stderr once prefixed with the
# file's path). For each file, `tokensim run` and `tokensim check` must exit 2 with a message
# that starts with `tokensim: ` and contains PATH:LINE: message, and the run must leave no runs
# row in the database and no report. Also: an empty file and a binary file (written here, as
# they cannot carry an expect line), and a GOOD file with a 199-character line (the limit).
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-bad.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

# Appends the first lines of stderr file $1 to $why.
showerr() {
    addwhy "stderr was: $(head -c 400 "$1" | tr '\n' '|')"
}

if [ ! -x "$TS" ]; then
    echo "not ok - ./tokensim is built (run make build)"
    exit 1
fi

# refused FILE EXPECT...: runs and checks FILE, which must be refused; each EXPECT must be in
# stderr. Sets $why.
refused() {
    f=$1
    shift
    why=
    rm -rf "$TMP/bad.db" "$TMP/bad.db-wal" "$TMP/bad.db-shm" "$TMP/out"
    "$TS" run --db "$TMP/bad.db" --out "$TMP/out" "$f" >"$TMP/out.txt" 2>"$TMP/err.txt"
    rc=$?
    [ "$rc" -eq 2 ] || addwhy "run: exit status $rc, expected 2"
    case $(head -n 1 "$TMP/err.txt") in
    'tokensim: '*) ;;
    *) addwhy "run: stderr does not start with 'tokensim: '" ;;
    esac
    grep -qF -- "$f" "$TMP/err.txt" || addwhy "run: stderr does not name the file $f"
    for e in "$@"; do
        grep -qF -- "$e" "$TMP/err.txt" || addwhy "run: stderr lacks: $e"
    done
    if [ -f "$TMP/bad.db" ]; then
        n=$(sqlite3 "$TMP/bad.db" "select count(*) from runs" 2>/dev/null) || n=0
        [ "${n:-0}" -eq 0 ] || addwhy "run: the database has $n runs row(s)"
    fi
    if [ -d "$TMP/out" ] && [ -n "$(find "$TMP/out" -name report.md)" ]; then
        addwhy "run: a report was written: $(find "$TMP/out" -name report.md)"
    fi
    [ -z "$why" ] || showerr "$TMP/err.txt"
    "$TS" check --db "$TMP/bad.db" "$f" >"$TMP/out.txt" 2>"$TMP/cerr.txt"
    rc=$?
    [ "$rc" -eq 2 ] || addwhy "check: exit status $rc, expected 2"
    for e in "$@"; do
        grep -qF -- "$e" "$TMP/cerr.txt" || {
            addwhy "check: stderr lacks: $e"
            showerr "$TMP/cerr.txt"
        }
    done
}

n_files=0
for f in tests/bad/*.ini; do
    [ -f "$f" ] || continue
    n_files=$((n_files + 1))
    expect=$(sed -n '1s/^; expect: //p' "$f")
    if [ -z "$expect" ]; then
        why="line 1 is not '; expect: :LINE: message'"
    else
        case $expect in
        :[0-9]*:\ ?*) refused "$f" "$f$expect" ;;
        *) why="the expect text '$expect' does not start with ':LINE: '" ;;
        esac
    fi
    report "refused: $f"
done

why=
[ "$n_files" -ge 40 ] || addwhy "only $n_files files in tests/bad/"
report "tests/bad/ holds at least 40 bad scenarios ($n_files)"

# The empty file, a file of only blank and comment lines, and a binary file.
: >"$TMP/empty.ini"
refused "$TMP/empty.ini" "$TMP/empty.ini:1: empty scenario"
report "refused: an empty file"

printf '\n; nothing but a comment\n\n' >"$TMP/comments.ini"
refused "$TMP/comments.ini" "$TMP/comments.ini:1: empty scenario"
report "refused: a file of blank and comment lines"

printf '[scenario]\nname = x\000y\n' >"$TMP/binary.ini"
refused "$TMP/binary.ini" "$TMP/binary.ini:" "NUL byte" "binary"
report "refused: a binary file (NUL byte)"

# A good scenario whose longest lines are exactly 199 characters (a key line and a comment),
# with a section line of exactly 48 characters (the limit).
pad() { # $1 = prefix, $2 = total length: prints the prefix padded with 'x' to that length
    p=$1
    while [ "${#p}" -lt "$2" ]; do p="${p}x"; done
    printf '%s\n' "$p"
}
P37=$(pad '' 37 | tr x p) # a NAME of 38 characters makes [pricing NAME] 48 long
{
    printf '[scenario]\nname = long-lines\n'
    pad 'description = ' 199
    pad '; ' 199
    printf '\n[workload]\nmodel = llama-3.1-8b\ninput_tokens_per_day = 1e9\n'
    printf 'output_tokens_per_day = 1e9\n\n[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\n'
    printf 'decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n'
    printf 'pricing = p%s\n\n' "$P37"
    printf '[pricing p%s]\nusd_per_m_input = 1\nusd_per_m_output = 2\n' "$P37"
} >"$TMP/long199.ini"
why=
n=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$TMP/long199.ini")
[ "$n" -eq 199 ] || addwhy "the test file's longest line is $n characters, not 199"
n=$(grep -c '^\[pricing p*\]$' "$TMP/long199.ini")
s=$(grep '^\[pricing' "$TMP/long199.ini" | awk '{ print length($0) }')
[ "$n" -eq 1 ] && [ "$s" -eq 48 ] || addwhy "the test file's [pricing] line is '$s' characters, not 48"
"$TS" check "$TMP/long199.ini" >"$TMP/out.txt" 2>"$TMP/err.txt" || {
    addwhy "check: exit status $?, expected 0"
    showerr "$TMP/err.txt"
}
rm -rf "$TMP/good.db" "$TMP/out"
"$TS" run -q --db "$TMP/good.db" --out "$TMP/out" "$TMP/long199.ini" >"$TMP/out.txt" \
    2>"$TMP/err.txt" || {
    addwhy "run: exit status $?, expected 0"
    showerr "$TMP/err.txt"
}
st=$(sqlite3 "$TMP/good.db" "select group_concat(status) from runs" 2>/dev/null)
[ "$st" = "done" ] || addwhy "runs status is '$st', expected 'done'"
report "accepted: a good scenario with 199-character lines and a 48-character section line"

# The same file with one more character on the description line is refused at line 3.
sed '3s/$/x/' "$TMP/long199.ini" >"$TMP/long200.ini"
refused "$TMP/long200.ini" "$TMP/long200.ini:3: line is 200 characters long"
report "refused: the same scenario with a 200-character line"

[ "$failed" -eq 0 ]
