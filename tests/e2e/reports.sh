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
grep -q "^## Sweep" "$d/report.md" || addwhy "report.md has no Sweep section"
[ "$(grep -c '^| 0\.[0-9]* | [0-9.]* | [0-9.]* |$' "$d/report.md")" -ge 10 ] ||
    addwhy "the Sweep table should have a row per usd_per_kwh point (10)"
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

why=
A="$TMP/a.db"
"$TS" report --db "$A" 1 >"$TMP/o" 2>"$TMP/e" || addwhy "report 1 failed: $(cat "$TMP/e")"
cmp -s "$TMP/o" "$TMP/a/uncertain-power-1/report.md" || addwhy "report --format md is not the run's report.md"
"$TS" report --db "$A" --format html latest >"$TMP/o" 2>"$TMP/e" || addwhy "report html failed"
cmp -s "$TMP/o" "$TMP/a/uncertain-power-1/report.html" || addwhy "report --format html is not report.html"
"$TS" report --db "$A" --format csv 1 >"$TMP/csv" 2>"$TMP/e" || addwhy "report csv failed"
head -1 "$TMP/csv" | grep -qx 'fleet,metric,value,unit,p5,p50,p95' || addwhy "csv header: $(head -1 "$TMP/csv")"
rows=$(($(wc -l <"$TMP/csv") - 1))
want=$(sqlite3 "$A" "select count(*) from metrics where run_id = 1")
[ "$rows" = "$want" ] || addwhy "csv has $rows rows, metrics has $want"
grep -q '^"h100-us","usd_per_m_output",[0-9.e-]*,"USD/Mtok",[0-9.e-]*,[0-9.e-]*,[0-9.e-]*$' "$TMP/csv" ||
    addwhy "no usd_per_m_output row with P5/P50/P95: $(grep usd_per_m_output "$TMP/csv" | head -1)"
v=$(sqlite3 "$A" "select printf('%.10g', value) from metrics where run_id = 1 and fleet = 'h20-cn' and metric = 'usd_per_m_output'")
grep -q "^\"h20-cn\",\"usd_per_m_output\",$v," "$TMP/csv" || addwhy "csv value differs from the database ($v)"
"$TS" report --db "$A" --format json 1 >"$TMP/json" 2>"$TMP/e" || addwhy "report json failed"
n=$(grep -c '"metric": ' "$TMP/json")
[ "$n" = "$want" ] || addwhy "json has $n metric objects, want $want"
grep -q '"kind": "sweep"' "$TMP/json" || addwhy "json lacks the run kind"
report "report RUN prints md and html from the folder, csv and json from the database"

why=
"$TS" report --db "$A" 99 >/dev/null 2>"$TMP/e"; rc=$?
[ "$rc" -eq 2 ] && grep -q "no run 99" "$TMP/e" || addwhy "run 99: exit $rc, $(cat "$TMP/e")"
"$TS" report --db "$A" --format pdf 1 >/dev/null 2>"$TMP/e"; rc=$?
[ "$rc" -eq 2 ] && grep -q "md, html, csv or json" "$TMP/e" || addwhy "--format pdf: exit $rc, $(cat "$TMP/e")"
"$TS" report --db "$A" >/dev/null 2>&1; [ $? -eq 2 ] || addwhy "report without RUN should exit 2"
"$TS" report --db "$A" abc >/dev/null 2>&1; [ $? -eq 2 ] || addwhy "report abc should exit 2"
report "report: unknown run, format or RUN text are usage errors"

why=
rm -f "$TMP/a/uncertain-power-1/"*.png "$TMP/a/uncertain-power-1/report.html"
"$TS" plot --db "$A" 1 >"$TMP/o" 2>"$TMP/e" || addwhy "plot 1 failed: $(cat "$TMP/e")"
[ -s "$TMP/a/uncertain-power-1/price_curve.png" ] || addwhy "plot did not redraw price_curve.png"
[ -s "$TMP/a/uncertain-power-1/report.html" ] || addwhy "plot did not rewrite report.html"
grep -q "6 plots written, 6 drawn" "$TMP/o" || addwhy "plot output: $(cat "$TMP/o")"
report "plot RUN redraws the plots and report.html"

why=
"$TS" run --quiet --db "$TMP/c.db" --out "$TMP/c" scenarios/batch-size.ini >/dev/null 2>"$TMP/e" ||
    addwhy "batch-size run failed: $(head -c 300 "$TMP/e")"
d="$TMP/c/batch-size-1"
for f in batch_curve.gp batch_curve.dat batch_curve.png batch_curve.svg; do
    [ -s "$d/$f" ] || addwhy "$f missing"
done
n=$(grep -c '^ [0-9]' "$d/batch_curve.dat")
[ "$n" -eq 10 ] || addwhy "batch_curve.dat has $n points, want 10"
v=$(sqlite3 "$TMP/c.db" "select printf('%.6g', value) from sweep_points where metric = 'decode_tok_s_per_chip' and x = 64")
grep -q "^ 64 [0-9.e+-]* $v\$" "$d/batch_curve.dat" || addwhy "tokens/s at batch 64 ($v) not in batch_curve.dat"
grep -q "y2label 'decode_tok_s_per_chip (tok/s/chip)'" "$d/batch_curve.gp" || addwhy "no tokens/s axis label with unit"
report "a sweep over max_batch plots \$/M output and tokens/s against the batch"

why=
sed -e "s/^name = .*/name = x<script>alert(1)<\/script>' system('touch $(echo "$TMP" | sed 's/\//\\\//g')\/pwned') \`touch pwned2\`/" \
    -e "s/^description = .*/description = a | b **c** <img src=x onerror=alert(1)> [l](javascript:alert(1))/" \
    scenarios/uncertain-power.ini >"$TMP/evil.ini"
grep -q "^name = x<script>" "$TMP/evil.ini" || addwhy "test set-up: the hostile name did not go in"
"$TS" run --quiet --db "$TMP/d.db" --out "$TMP/d" "$TMP/evil.ini" >/dev/null 2>"$TMP/e" ||
    addwhy "hostile run failed: $(head -c 300 "$TMP/e")"
d=$(ls -d "$TMP"/d/*/ | head -1)
[ ! -e "$TMP/pwned" ] && [ ! -e "$d/pwned2" ] && [ ! -e pwned2 ] || addwhy "a command in the name ran"
grep -qi "<script\|<img src=x\|href=\"javascript" "$d/report.html" && addwhy "markup from the scenario reached report.html"
grep -q "&lt;script&gt;" "$d/report.html" || addwhy "the name is not shown escaped in report.html"
head -1 "$d/report.md" | grep -q "&lt;script&gt;" || addwhy "the name is not escaped in report.md: $(head -1 "$d/report.md")"
for gp in "$d"/*.gp; do
    (cd "$d" && gnuplot "$(basename "$gp")") 2>"$TMP/e" || addwhy "$(basename "$gp") fails: $(head -c 200 "$TMP/e")"
done
[ ! -e "$TMP/pwned" ] && [ ! -e "$d/pwned2" ] || addwhy "rerunning a .gp ran a command from the name"
report "text from a scenario is escaped in report.md, report.html and gnuplot scripts"

why=
"$TS" run --quiet --db "$TMP/f.db" --out "$TMP/f" scenarios/deepseek-day-margin.ini >/dev/null 2>"$TMP/e" ||
    addwhy "deepseek run failed: $(head -c 300 "$TMP/e")"
d="$TMP/f/deepseek-day-margin-1"
[ -s "$d/price_curve.png" ] || addwhy "no computed price_curve.png without a sweep"
want=$(sqlite3 "$TMP/f.db" "select printf('%.6g', max(case when metric = 'usd_per_m_output' then value end)
        - max(case when metric = 'energy_usd_per_m_output' then value end)) from metrics where fleet = 'own-cn-power'")
awk '/^# fleet "own-cn-power"/ {on = 1; next} on && /^0 / {print $2; exit}' "$d/price_curve.dat" >"$TMP/v"
[ "$(cat "$TMP/v")" = "$want" ] || addwhy "own-cn-power at 0 USD/kWh: $(cat "$TMP/v"), want usd_per_m_output - energy = $want"
grep -q '"rent-r1-prices (power in the rent)"\|power in the rent' "$d/price_curve.gp" || addwhy "rented fleets not marked flat"
report "without a sweep, price curves are computed per fleet (energy part scales with \$/kWh)"

[ "$failed" -eq 0 ]
