#!/bin/sh
# Runs every test: the cmocka unit binaries in build/tests/ (TAP output) and the end-to-end
# scripts in tests/e2e/ (which print TAP `ok`/`not ok` lines). Ends with `N passed, N failed`.
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
count() { # $1 = name, $2 = exit status; reads $log
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $1 exited with status $2 without reporting a failure"
        f=1
    fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $1 ran no test"
        f=1
    fi
    # each failure with the `# ` diagnostics that follow it, so a red run says why
    awk '/^not ok / { show = 1; print; next } /^# / { if (show) print; next } { show = 0 }' "$log"
    pass=$((pass + p))
    fail=$((fail + f))
    echo "# $1: $p passed, $f failed"
}
for t in build/tests/test_*; do
    [ -x "$t" ] || continue
    CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log" 2>&1
    st=$?
    count "$(basename "$t")" "$st"
done
for t in tests/e2e/*.sh; do
    [ -f "$t" ] || continue
    sh "$t" >"$log" 2>&1
    st=$?
    count "$(basename "$t")" "$st"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
