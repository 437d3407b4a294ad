#!/bin/sh
# End-to-end: text that reaches a person is inert (docs/text-rule.md), and nothing a person
# reads says "nan" or "inf". Checks, on the bytes written:
#  - every tests/bad/control-*.ini (ESC/CSI/OSC, BEL, CR, backspace, DEL, C1) is refused and
#    neither stdout nor stderr of `run`/`check` carries a control byte (the message spells it);
#  - command-line arguments holding ESC, OSC, BEL and a newline come back escaped in errors of
#    run, check, measure, runs, report and plot;
#  - a catalog cell holding ESC is refused at FILE:LINE;
#  - printable hostile text (<script>, '); system(...), SQL quotes) in a description and a
#    question title is stored exactly, escaped in report.html, and runs nothing;
#  - a database edited by hand (ESC, a gnuplot injection and a newline in run and fleet names)
#    reaches `runs`, `report --format csv|json` and `plot` (.gp, .dat, .svg, report.html) inert;
#  - a [compare] + versus question and a breakeven question over fleets without input tokens:
#    `run` output, report.md, report.html, metrics.csv and `report` say no nan/inf; nor does
#    any shipped report in reports/.
# Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-inert.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

# inert FILE WHAT: adds a why when FILE holds a C0 control other than TAB and LF, DEL, a C1
# control in UTF-8 (C2 80-9F) or is not valid UTF-8.
inert() {
    if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$1"; then
        addwhy "$2 holds a control byte: $(LC_ALL=C grep -n "$(printf '[\001-\010\013-\037\177]')" "$1" | head -2 | od -c | head -3 | tr '\n' '|')"
    fi
    if LC_ALL=C grep -q "$(printf '\302[\200-\237]')" "$1"; then
        addwhy "$2 holds a C1 control"
    fi
    if ! iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1; then
        addwhy "$2 is not valid UTF-8"
    fi
    if [ "$(tr -d '\000' <"$1" | wc -c)" -ne "$(wc -c <"$1")" ]; then
        addwhy "$2 holds a NUL byte"
    fi
}

# nonan FILE WHAT: adds a why when FILE says nan or inf as a word (any case).
nonan() {
    if grep -qiwE 'nan|-nan|inf|-inf|infinity' "$1"; then
        addwhy "$2 says nan/inf: $(grep -iwE 'nan|-nan|inf|-inf|infinity' "$1" | head -2 | tr '\n' '|')"
    fi
}

if [ ! -x "$TS" ]; then
    echo "not ok - ./tokensim is built (run make build)"
    exit 1
fi

# ---- control characters in scenario files: refused, and the refusal is inert ----
n=0
for f in tests/bad/control-*.ini; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    why=
    for cmd in run check; do
        if [ $cmd = run ]; then set -- --db "$TMP/c.db" --out "$TMP/c-out"; else set --; fi
        "$TS" $cmd "$@" "$f" >"$TMP/o" 2>"$TMP/e"
        rc=$?
        [ "$rc" -eq 2 ] || addwhy "$cmd: exit $rc, expected 2"
        inert "$TMP/o" "$cmd stdout"
        inert "$TMP/e" "$cmd stderr"
        grep -q 'x[0-9a-f][0-9a-f] at column [0-9]' "$TMP/e" || addwhy "$cmd: stderr does not spell the byte: $(head -c 300 "$TMP/e")"
    done
    report "control characters refused and spelled \\xNN: $f"
done
why=
[ "$n" -ge 8 ] || addwhy "only $n tests/bad/control-*.ini files"
report "tests/bad holds control-character cases ($n)"

# A scenario of the contract: a trailing CR (a CRLF file) and a TAB in a value are fine.
good_ini() { # $1 = description line (raw), $2 = question title (raw)
    printf '[scenario]\r\nname = hostile\r\n%s\r\n\r\n' "$1"
    printf '[question]\nkind = versus\ntitle = %s\nfleets = a, b\n\n' "$2"
    printf '[workload]\nmodel = llama-3.1-8b\ninput_tokens_per_day = 1e9\noutput_tokens_per_day = 1e9\n\n'
    printf '[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\ndecode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n\n'
    printf '[fleet b]\nchip = h100-sxm\nusd_per_kwh = 0.12\ndecode_tok_s_per_chip = 1500\nprefill_tok_s_per_chip = 10000\n'
}

# ---- printable hostile text: stored exactly, escaped in HTML, never run ----
why=
DESC="description = <script>alert(1)</script>	'); system(\"touch $TMP/pwned\"); print('"
TITLE="Robert'); DROP TABLE runs; -- \"x\" \`touch $TMP/pwned2\` <img src=x onerror=alert(1)>"
good_ini "$DESC" "$TITLE" >"$TMP/hostile.ini"
"$TS" run --db "$TMP/h.db" --out "$TMP/h-out" "$TMP/hostile.ini" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "run: exit $?: $(head -c 300 "$TMP/e")"
inert "$TMP/o" "run stdout"
inert "$TMP/e" "run stderr"
html=$(find "$TMP/h-out" -name report.html | head -1)
if [ -z "$html" ]; then
    addwhy "no report.html"
else
    grep -q '<script' "$html" && addwhy "report.html holds a raw <script"
    grep -q '<img src=x' "$html" && addwhy "report.html holds the raw <img src=x"
    grep -q '&lt;img src=x' "$html" || addwhy "report.html lacks the escaped &lt;img"
    grep -q '&lt;script&gt;' "$html" || addwhy "report.html lacks the escaped &lt;script&gt;"
    inert "$html" "report.html"
    for f in "$(dirname "$html")"/*; do
        case "$f" in *.png) continue ;; esac
        inert "$f" "$(basename "$f")"
    done
fi
[ -e "$TMP/pwned" ] && addwhy "a system() in the description ran"
[ -e "$TMP/pwned2" ] && addwhy "a backquote in the title ran"
n=$(sqlite3 "$TMP/h.db" "select count(*) from runs where status = 'done'" 2>&1)
[ "$n" = "1" ] || addwhy "runs table: '$n', expected one done run"
stored=$(sqlite3 "$TMP/h.db" "select scenario_text from runs" 2>&1)
want=$(cat "$TMP/hostile.ini")
[ "$stored" = "$want" ] || addwhy "the stored scenario text differs from the file"
report "hostile printable text is stored exactly, escaped in HTML and runs nothing"

# ---- command-line arguments in error messages ----
why=
EVIL=$(printf 'x\033[2J\033]0;pwned\007\ntokensim: all good')
for args in "run" "check" "measure --model" "runs --db" "report --db $TMP/h.db" "plot --db $TMP/h.db"; do
    # shellcheck disable=SC2086
    "$TS" $args "$EVIL" >"$TMP/o" 2>"$TMP/e"
    rc=$?
    [ "$rc" -ne 0 ] || addwhy "$args EVIL: exit 0"
    inert "$TMP/o" "$args stdout"
    inert "$TMP/e" "$args stderr"
    grep -q 'x\\x1b\[2J' "$TMP/e" || addwhy "$args: stderr does not spell ESC as \\x1b: $(head -c 200 "$TMP/e" | od -c | head -2 | tr '\n' '|')"
    [ "$(grep -c 'all good' "$TMP/e")" -le 1 ] || addwhy "$args: a faked line"
    grep -q '^tokensim: all good' "$TMP/e" && addwhy "$args: the argument's newline faked a line"
done
report "command-line arguments come back escaped in error messages"

# ---- a catalog cell with ESC ----
why=
cp -r data "$TMP/data"
line=$(grep -n '^h100-sxm,' "$TMP/data/chips.csv" | cut -d: -f1)
sed -i "${line}s/^h100-sxm,\([^,]*\)/h100-sxm,\1/; ${line}s/datasheet;/datasheet$(printf '\033')[2J;/" "$TMP/data/chips.csv"
if LC_ALL=C grep -q "$(printf '\033')" "$TMP/data/chips.csv"; then
    "$TS" run --data "$TMP/data" --db "$TMP/k.db" --out "$TMP/k-out" "$TMP/hostile.ini" >"$TMP/o" 2>"$TMP/e"
    rc=$?
    [ "$rc" -eq 2 ] || addwhy "exit $rc, expected 2"
    grep -qF "chips.csv:$line: control character" "$TMP/e" || addwhy "stderr lacks chips.csv:$line: $(head -c 300 "$TMP/e")"
    inert "$TMP/e" "stderr"
    [ ! -e "$TMP/k.db" ] || [ "$(sqlite3 "$TMP/k.db" 'select count(*) from runs')" = 0 ] ||
        addwhy "a runs row was stored"
else
    addwhy "the test could not plant ESC in chips.csv"
fi
report "a catalog cell holding ESC is refused at FILE:LINE"

# ---- a database edited by hand: everything read back is inert ----
why=
BAD_FLEET="b');system('touch $TMP/pwned3');print('$(printf '\033')[2J"
BAD_NAME="run$(printf '\033')]0;pwned$(printf '\007')
tokensim: all good"
sqlite3 "$TMP/h.db" "update runs set name = '$(printf '%s' "$BAD_NAME" | sed "s/'/''/g")';
    pragma foreign_keys = off;
    update metrics set fleet = '$(printf '%s' "$BAD_FLEET" | sed "s/'/''/g")' where fleet = 'b';
    update fleets set fleet = '$(printf '%s' "$BAD_FLEET" | sed "s/'/''/g")' where fleet = 'b';
    update sweep_points set fleet = '$(printf '%s' "$BAD_FLEET" | sed "s/'/''/g")' where fleet = 'b';" 2>"$TMP/e" ||
    addwhy "sqlite3 update failed: $(cat "$TMP/e")"
"$TS" runs --db "$TMP/h.db" >"$TMP/o" 2>"$TMP/e" || addwhy "runs: exit $?"
inert "$TMP/o" "runs stdout"
grep -q '\\x1b]0;pwned\\x07\\x0atokensim: all good' "$TMP/o" || addwhy "runs does not spell the name: $(od -c "$TMP/o" | head -4 | tr '\n' '|')"
for fmt in csv json md; do
    "$TS" report --db "$TMP/h.db" --format $fmt latest >"$TMP/o" 2>"$TMP/e" || addwhy "report --format $fmt: exit $?"
    inert "$TMP/o" "report --format $fmt"
done
"$TS" report --db "$TMP/h.db" --format csv latest | grep -q 'x1b\[2J' || addwhy "report csv lacks the escaped fleet name"
"$TS" plot --db "$TMP/h.db" latest >"$TMP/o" 2>"$TMP/e" || addwhy "plot: exit $?: $(head -c 300 "$TMP/e")"
inert "$TMP/o" "plot stdout"
inert "$TMP/e" "plot stderr"
for f in "$(dirname "$html")"/*; do
    case "$f" in *.png) continue ;; esac
    inert "$f" "after plot: $(basename "$f")"
done
grep -ql "x1b\[2J" "$(dirname "$html")"/*.gp || addwhy "no .gp names the edited fleet (escaped)"
[ -e "$TMP/pwned3" ] && addwhy "a gnuplot system() in a stored fleet name ran"
report "a hand-edited database reaches runs, report and plot inert"

# ---- no input tokens: no nan/inf anywhere a person reads ----
noin_ini() { # $1 = question kind lines
    printf '[scenario]\nname = no-input\ndescription = fleets that read no prompts\n\n'
    printf '[question]\n%s\nfleets = a, b\n\n' "$1"
    printf '[compare]\nbaseline = a\nbreakeven = usd_per_kwh\n\n'
    printf '[workload]\nmodel = llama-3.1-8b\ninput_tokens_per_day = 0\noutput_tokens_per_day = 1e9\n\n'
    printf '[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\ndecode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n\n'
    printf '[fleet b]\nchip = h100-sxm\nusd_per_kwh = 0.12\ndecode_tok_s_per_chip = 1500\nprefill_tok_s_per_chip = 10000\n'
}
for kind in versus breakeven; do
    why=
    noin_ini "kind = $kind
title = Which is cheaper without prompts?" >"$TMP/noin-$kind.ini"
    rm -rf "$TMP/n-out"
    "$TS" run --db "$TMP/n-$kind.db" --out "$TMP/n-out" "$TMP/noin-$kind.ini" >"$TMP/o" 2>"$TMP/e" ||
        addwhy "run: exit $?: $(head -c 300 "$TMP/e")"
    nonan "$TMP/o" "run stdout"
    nonan "$TMP/e" "run stderr"
    grep -q 'Conclusion' "$TMP/o" || addwhy "run printed no conclusion"
    for f in "$TMP"/n-out/*/report.md "$TMP"/n-out/*/report.html "$TMP"/n-out/*/metrics.csv; do
        [ -f "$f" ] || { addwhy "missing $f"; continue; }
        nonan "$f" "$(basename "$f")"
    done
    for fmt in md csv json; do
        "$TS" report --db "$TMP/n-$kind.db" --format $fmt latest >"$TMP/o" 2>&1
        nonan "$TMP/o" "report --format $fmt"
    done
    report "no input tokens, $kind question: nothing says nan or inf"
done

why=
for f in reports/*/report.md reports/*/metrics.csv reports/QUESTIONS.md README.md; do
    [ -f "$f" ] && nonan "$f" "$f"
done
report "no shipped report says nan or inf"

[ "$failed" -eq 0 ]
