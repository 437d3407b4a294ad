#!/bin/sh
# End-to-end: the committed example gallery in reports/ is current. Regenerates it into a
# temporary folder with scripts/make-reports.sh and compares every text file (Markdown, CSV,
# data and gnuplot scripts, HTML; not PNG/SVG images, which depend on fonts) with what is
# committed, and checks that the gallery holds no run ids, dates or versions. Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-gallery.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

why=
sh scripts/make-reports.sh "$TMP/g" >"$TMP/o" 2>"$TMP/e" || addwhy "make-reports failed: $(tail -c 400 "$TMP/e")"
n=$(ls "$TMP/g" | wc -l)
[ "$n" -ge 6 ] || addwhy "only $n reports generated"
report "scripts/make-reports.sh regenerates the gallery"

why=
for d in "$TMP"/g/*/; do
    stem=$(basename "$d")
    [ -d "reports/$stem" ] || { addwhy "reports/$stem is missing: run make reports and commit"; continue; }
    for f in "$d"*; do
        name=$(basename "$f")
        case "$name" in *.png | *.svg) continue ;; esac
        if [ ! -e "reports/$stem/$name" ]; then
            addwhy "reports/$stem/$name is made but not committed"
        elif ! cmp -s "$f" "reports/$stem/$name"; then
            addwhy "reports/$stem/$name differs: $(diff "reports/$stem/$name" "$f" | head -4 | tr '\n' '|')"
        fi
    done
    for f in "reports/$stem"/*; do
        [ -e "$d$(basename "$f")" ] || addwhy "$f is committed but no longer made"
    done
done
for d in reports/*/; do
    [ -d "$TMP/g/$(basename "$d")" ] || addwhy "$d is not made by make reports (stale?)"
done
report "the committed reports/ text files are current (make reports changes nothing)"

why=
if ! cmp -s "$TMP/g/QUESTIONS.md" reports/QUESTIONS.md; then
    addwhy "reports/QUESTIONS.md is not current: run make reports and commit"
fi
sed 's|](|](reports/|g' "$TMP/g/QUESTIONS.md" >"$TMP/section"
awk '/^<!-- questions:begin/ {c = 1; next} /^<!-- questions:end/ {c = 0} c' README.md >"$TMP/readme"
cmp -s "$TMP/section" "$TMP/readme" ||
    addwhy "README.md's Questions section differs from make reports': $(diff "$TMP/readme" "$TMP/section" | head -4 | tr '\n' '|')"
n=$(grep -c '^### ' "$TMP/g/QUESTIONS.md")
[ "$n" -ge 7 ] || addwhy "only $n questions in QUESTIONS.md"
report "README's Questions tokensim answers and reports/QUESTIONS.md are what make reports writes"

why=
ver=$("$TS" --version | awk '{print $2}' | sed 's/\./\\./g')
if grep -rEl "(^|[^0-9])20[0-9]{2}-[01][0-9]-[0-3][0-9]T|; run [0-9]|tokensim run [0-9]|${ver:-x.y.z}" "$TMP/g" \
    --include='*.md' --include='*.csv' --include='*.html' --include='*.gp' --include='*.dat' >"$TMP/hits"; then
    addwhy "run ids, timestamps or versions in: $(tr '\n' ' ' <"$TMP/hits")"
fi
report "the gallery holds no run ids, timestamps or versions"

[ "$failed" -eq 0 ]
