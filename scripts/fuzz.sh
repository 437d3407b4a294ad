#!/bin/sh
# `make fuzz FUZZ_SECONDS=N`: builds every libFuzzer target in tests/fuzz/ with clang (ASan +
# UBSan + libFuzzer; Debian's clang and libclang-rt-14-dev) into build/fuzz and runs each for N
# seconds (default 30) from the repository root, on a working corpus in build/fuzz/corpus/NAME
# seeded from tests/fuzz/seeds/NAME and the shipped inputs (scenarios/, tests/bad/, data/). A
# crash leaves its input as build/fuzz/crash-*; add it to tests/bad/ (or the loader's tests)
# as a regression test. Exit status 1 when any target failed.
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang}
out=build/fuzz
mkdir -p "$out/obj"
FLAGS="-g -O1 -I. -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -ffp-contract=off -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined $(pkg-config --cflags sqlite3 gsl inih jansson)"
LIBS="$(pkg-config --libs sqlite3 gsl inih jansson) -lcsv -lm -pthread"
objs=""
for src in $(find models sim -name '*.c' | sort); do
    [ "$src" = sim/cli/main.c ] && continue
    o="$out/obj/$(echo "$src" | tr / _).o"
    # rebuilt when its source or any header is newer (a changed struct must not meet old code)
    if [ ! -e "$o" ] || [ "$src" -nt "$o" ] ||
        [ -n "$(find models sim -name '*.h' -newer "$o" 2>/dev/null | head -1)" ]; then
        extra=""
        case "$src" in models/*) extra="-march=native" ;; esac
        $CC $FLAGS $extra -c "$src" -o "$o" || { echo "fuzz: compiling $src failed" >&2; exit 1; }
    fi
    objs="$objs $o"
done
status=0
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    short=${name#fuzz_}
    bin="$out/$name"
    $CC $FLAGS -fsanitize=fuzzer "$t" $objs $LIBS -o "$bin" || { echo "fuzz: building $name failed" >&2; exit 1; }
    corpus="$out/corpus/$short"
    mkdir -p "$corpus"
    [ -d "tests/fuzz/seeds/$short" ] && cp tests/fuzz/seeds/"$short"/* "$corpus"/ 2>/dev/null
    case "$short" in
        scenario) cp scenarios/*.ini tests/bad/*.ini "$corpus"/ ;;
        catalog) cp data/*.csv "$corpus"/ ;;
        hfconfig) cp tests/data/hf/*.json "$corpus"/ ;;
    esac
    echo "fuzz: $name for ${secs}s" >&2
    if "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/crash-$short-" -print_final_stats=0 "$corpus" >"$out/$name.log" 2>&1; then
        echo "ok - fuzz $short: $(grep -c . "$out/$name.log" >/dev/null; tail -1 "$out/$name.log")"
    else
        echo "not ok - fuzz $short: see $out/$name.log and $out/crash-$short-*"
        tail -30 "$out/$name.log" | sed 's/^/# /'
        status=1
    fi
done
exit "$status"
