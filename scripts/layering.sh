#!/bin/sh
# The house rules of docs/architecture.md, checked on the C sources under ROOT (default: the
# repository): every project #include "..." must follow an allowed arrow between rooms, and
# library code (everything outside sim/cli/) must not print to the terminal or exit. Prints one
# line per violation (FILE:LINE: what) and exits 1 when there is any, 0 otherwise.
# Usage: scripts/layering.sh [ROOT]
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# The room of a path: models/engine, sim/price, ...; tserr.h is the models/ root room.
room_of() {
    case "$1" in
        models/tserr.[ch]) echo models ;;
        models/*/*) echo "$1" | cut -d/ -f1-2 ;;
        sim/*/*) echo "$1" | cut -d/ -f1-2 ;;
        tests/*) echo tests ;;
        *) echo other ;;
    esac
}

# The rooms a room may include (besides itself). Arrows point down only:
# cli -> study -> serve -> price -> scenario -> text; cli -> store, render; render -> store;
# price, serve and study -> models; scenario -> models/engine (presets and shapes).
allowed() {
    case "$1" in
        models) echo "" ;;
        models/engine) echo "models" ;;
        models/formats) echo "models models/engine" ;;
        models/measure) echo "models models/engine" ;;
        sim/text) echo "models" ;;
        sim/scenario) echo "models models/engine sim/text" ;;
        sim/price) echo "models models/engine models/measure sim/scenario sim/text" ;;
        sim/serve) echo "models models/engine models/measure sim/price sim/scenario sim/text" ;;
        sim/study) echo "models models/engine models/measure sim/serve sim/price sim/scenario sim/text" ;;
        sim/store) echo "models sim/text" ;;
        sim/render) echo "models sim/store sim/text" ;;
        sim/cli) echo "ANY" ;;
        tests) echo "ANY" ;;
        *) echo "NONE" ;;
    esac
}

bad=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for f in $(find models sim -name '*.[ch]' 2>/dev/null | sort); do
    from=$(room_of "$f")
    ok=$(allowed "$from")
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
        n=${line%%:*}
        inc=$(echo "$line" | sed 's/.*include[[:space:]]*"\([^"]*\)".*/\1/')
        to=$(room_of "$inc")
        [ "$to" = "$from" ] && continue
        [ "$ok" = "ANY" ] && continue
        case " $ok " in *" $to "*) continue ;; esac
        case "$f $inc" in
            # the tokenizer includes nothing of models/: generation may use it (no cycle)
            "models/engine/generate.h models/formats/tokenizer.h") continue ;;
        esac
        echo "$f:$n: $from may not include $inc ($to): see docs/architecture.md"
    done >>"$out"
    case "$from" in sim/cli | tests) continue ;; esac
    # library code never prints or exits: no printf/puts/putchar/perror/exit, and no
    # fprintf/fputs/fputc/fwrite to stdout or stderr (writing to a caller's FILE * is fine);
    # _exit is allowed: it is how a forked child that failed to exec ends (plot.c)
    grep -nE '(^|[^_a-zA-Z0-9.>])(printf|puts|putchar|perror|exit|abort)[[:space:]]*\(|(fprintf|vfprintf)[[:space:]]*\([[:space:]]*(stdout|stderr)|(fputs|fputc|fwrite)[[:space:]]*\(.*,[[:space:]]*(stdout|stderr)[[:space:]]*\)' "$f" |
        grep -vE '^[0-9]+:[[:space:]]*(/\*|\*)' | while IFS= read -r line; do
        echo "$f:${line%%:*}: library code (outside sim/cli) prints or exits: ${line#*:}"
    done >>"$out"
done
if [ -s "$out" ]; then
    cat "$out"
    echo "layering: $(wc -l <"$out") violations"
    exit 1
fi
echo "layering: every include follows an allowed arrow; only sim/cli prints or exits"
exit 0
