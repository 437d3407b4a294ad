#!/bin/sh
# `make asan`: the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer. Copies
# the tracked and untracked-but-not-ignored files into build/asan-tree (so relative paths such as
# ./tokensim and ./data work as in `make test`), builds there with the sanitizers, runs
# scripts/run-tests.sh, and fails when any process wrote a sanitizer report (reports go to
# build/asan-tree/sanitizer.* through log_path, so tests that expect an exit status cannot hide
# them). Ends with the suite's `N passed, N failed` line and a sanitizer line.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
tree="$root/build/asan-tree"
rm -rf "$tree"
mkdir -p "$tree"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | (cd "$root" && xargs -0 tar -cf - --) |
        tar -C "$tree" -xf - || { echo "asan: copying the tree failed" >&2; exit 1; }
else
    tar -cf - --exclude=./build --exclude=./out . | tar -C "$tree" -xf - || exit 1
fi
cd "$tree" || exit 1
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
echo "asan: building in $tree" >&2
make -s build CFLAGS="$SAN" >build.log 2>&1 || { tail -20 build.log >&2; exit 1; }
export ASAN_OPTIONS="detect_leaks=1:log_path=$tree/sanitizer.asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$tree/sanitizer.ubsan"
sh scripts/run-tests.sh
st=$?
reports=$(ls "$tree"/sanitizer.* 2>/dev/null | wc -l)
if [ "$reports" -gt 0 ]; then
    for f in "$tree"/sanitizer.*; do
        echo "# $f:"
        head -30 "$f" | sed 's/^/#   /'
    done
    echo "sanitizers: $reports reports (see $tree/sanitizer.*)"
    exit 1
fi
echo "sanitizers: no reports"
exit "$st"
