#!/bin/sh
# End-to-end: a run's folder gets report.html, report.md and the gnuplot plots (.gp, .dat, PNG,
# SVG), every image the page names exists, and without gnuplot on PATH the run still succeeds
# with a warning, the scripts and data but no images. Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-reports.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

why=
"$TS" run --db "$TMP/a.db" --out "$TMP/a" scenarios/uncertain-power.ini >"$TMP/o" 2>"$TMP/e" ||
    addwhy "run failed: $(head -c 300 "$TMP/e")"
d="$TMP/a/uncertain-power-1"
for f in report.html report.md metrics.csv price_curve.gp price_curve.dat price_curve.png \
    price_curve.svg cost_breakdown.png histogram.svg tornado_1.png usd_per_m.svg; do
    [ -s "$d/$f" ] || addwhy "$f missing or empty"
done
grep -q "report.html" "$TMP/o" || addwhy "stdout does not name report.html"
[ ! -s "$TMP/e" ] || addwhy "unexpected stderr: $(head -c 300 "$TMP/e")"
for img in $(grep -o '<img src="[^"]*"' "$d/report.html" | sed 's/<img src="//; s/"$//'); do
    [ -s "$d/$img" ] || addwhy "report.html names $img, which is missing"
done
[ "$(grep -c '<img src=' "$d/report.html")" -ge 5 ] || addwhy "fewer than 5 images in report.html"
grep -q "usd_per_m_output" "$d/report.html" || addwhy "report.html lacks the metrics table"
grep -q "USD/Mtok" "$d/report.html" || addwhy "report.html lacks units"
report "run writes report.html with plots (PNG, SVG, .gp, .dat) whose images all exist"

why=
(cd "$d" && gnuplot price_curve.gp) 2>"$TMP/e" || addwhy "gnuplot price_curve.gp failed in the folder: $(head -c 300 "$TMP/e")"
report "a kept .gp script reruns with gnuplot in the run's folder"

why=
mkdir -p "$TMP/bin"
ln -s "$(pwd)/tokensim" "$TMP/bin/tokensim"
PATH="$TMP/bin" "$TMP/bin/tokensim" run --db "$TMP/b.db" --out "$TMP/b" --data data \
    scenarios/uncertain-power.ini >"$TMP/o" 2>"$TMP/e"
rc=$?
[ "$rc" -eq 0 ] || addwhy "exit $rc without gnuplot: $(head -c 300 "$TMP/e")"
grep -q "^tokensim: warning: .*gnuplot" "$TMP/e" || addwhy "no warning naming gnuplot: $(head -c 300 "$TMP/e")"
d="$TMP/b/uncertain-power-1"
[ -s "$d/report.html" ] && [ -s "$d/price_curve.gp" ] && [ -s "$d/price_curve.dat" ] ||
    addwhy "report.html, .gp or .dat missing"
ls "$d"/*.png >/dev/null 2>&1 && addwhy "images were made without gnuplot?"
grep -q '<img' "$d/report.html" && addwhy "report.html names images that do not exist"
report "without gnuplot: a warning, a report without plots, exit 0"

[ "$failed" -eq 0 ]
