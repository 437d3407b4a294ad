#!/bin/sh
# End-to-end: report.html opens in headless Chromium (Debian's chromium, installed by
# `make test`): the page renders its report text, every image it names loads (checked by a
# copy of the page with a small script appended; the report itself has no JavaScript), and a
# screenshot goes to out/report-screenshot.png. Every shipped scenario's report.html, in a
# 1280-pixel window, is no wider than the window and its summary table fits without scrolling
# (wide tables wrap their headers, and scroll inside their own box if ever wider). Prints TAP
# lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-browser.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    echo "not ok - chromium is installed (make test installs it: scripts/deps.sh --test)"
    exit 1
fi
# As root Chromium needs --no-sandbox; --disable-background-networking keeps it off the network.
chrome() {
    timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --no-first-run --disable-extensions --user-data-dir="$TMP/profile" "$@"
}

why=
"$TS" run --quiet --db "$TMP/b.db" --out "$TMP/out" scenarios/uncertain-power.ini >/dev/null 2>"$TMP/e" ||
    addwhy "run failed: $(head -c 300 "$TMP/e")"
d="$TMP/out/uncertain-power-1"
cp "$d/report.html" "$d/check.html"
cat >>"$d/check.html" <<'JS'
<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images), bad = [];
  imgs.forEach(function (i) { if (!(i.complete && i.naturalWidth > 0)) bad.push(i.getAttribute('src')); });
  var p = document.createElement('pre');
  p.textContent = 'TOKENSIM' + '-CHECK images=' + imgs.length + ' bad=' + bad.length + ' ' + bad.join(' ');
  document.body.appendChild(p);
});
</script>
JS
chrome --virtual-time-budget=10000 --dump-dom "file://$d/check.html" >"$TMP/dom" 2>"$TMP/e" ||
    addwhy "chromium --dump-dom failed: $(tail -c 300 "$TMP/e")"
line=$(grep -o 'TOKENSIM-CHECK[^<]*' "$TMP/dom")
n=$(echo "$line" | sed -n 's/.*images=\([0-9]*\).*/\1/p')
bad=$(echo "$line" | sed -n 's/.*bad=\([0-9]*\).*/\1/p')
[ -n "$line" ] || addwhy "the page's load event never ran (no check line in the DOM)"
[ "${n:-0}" -ge 5 ] || addwhy "only ${n:-0} images in the page"
[ "${bad:-1}" = 0 ] || addwhy "images that did not load: $line"
grep -q "<h1[^>]*>uncertain-power</h1>" "$TMP/dom" || addwhy "the rendered DOM lacks the report's h1"
grep -q "<table" "$TMP/dom" || addwhy "the rendered DOM has no table"
report "report.html renders in headless Chromium and every image loads"

# Every shipped scenario's report at 1280 px: the page no wider than the window (a table
# wider than the page scrolls in its own box), the summary (first) table fully in its box.
why=
checked=0
for sc in scenarios/*.ini; do
    stem=$(basename "$sc" .ini)
    rm -rf "$TMP/w"
    "$TS" run --quiet --db "$TMP/w.db" --out "$TMP/w" "$sc" >/dev/null 2>"$TMP/e" || {
        # this-machine.ini needs a measure run: its report is checked in the gallery's place
        continue
    }
    page=$(ls "$TMP"/w/*/report.html | head -1)
    cat >>"$page" <<'JS'
<script>
window.addEventListener('load', function () {
  var t = document.querySelector('table'), p = document.createElement('pre');
  p.textContent = 'TOKENSIM' + '-WIDTH page=' + document.documentElement.scrollWidth +
    ' window=' + document.documentElement.clientWidth +
    ' table=' + (t ? t.scrollWidth : 0) + ' box=' + (t ? t.parentNode.clientWidth : 0);
  document.body.appendChild(p);
});
</script>
JS
    chrome --window-size=1280,1000 --virtual-time-budget=5000 --dump-dom "file://$page" \
        >"$TMP/dom" 2>"$TMP/e" || addwhy "$stem: chromium failed: $(tail -c 200 "$TMP/e")"
    line=$(grep -o 'TOKENSIM-WIDTH[^<]*' "$TMP/dom")
    set -- $(echo "$line" | sed 's/[a-z]*=//g; s/TOKENSIM-WIDTH//')
    if [ $# -ne 4 ]; then
        addwhy "$stem: no width line in the DOM"
        continue
    fi
    checked=$((checked + 1))
    [ "$1" -le "$2" ] || addwhy "$stem: the page is $1 px wide in a $2 px window"
    [ "$3" -le "$4" ] || addwhy "$stem: the summary table is $3 px wide in a $4 px box"
done
[ "$checked" -ge 10 ] || addwhy "only $checked reports checked"
report "every shipped report fits a 1280 px window, its summary table without scrolling ($checked)"

why=
mkdir -p out
chrome --window-size=1280,2400 --screenshot="$(pwd)/out/report-screenshot.png" \
    "file://$d/report.html" >/dev/null 2>"$TMP/e" || addwhy "screenshot failed: $(tail -c 300 "$TMP/e")"
[ -s out/report-screenshot.png ] || addwhy "out/report-screenshot.png is missing"
report "a screenshot of report.html is in out/report-screenshot.png"

[ "$failed" -eq 0 ]
