#!/bin/sh
# Regenerates the example report gallery: reports/<scenario>/ for every shipped scenario that
# does not depend on this machine's measurements (no `throughput = measured`, no
# `chip = this-machine`). Each scenario runs into a fresh database with `--reproducible`, so a
# rerun on any machine changes no text file. Usage: scripts/make-reports.sh [DEST] (default
# reports; the gallery test writes into a temporary DEST and compares).
set -eu
cd "$(dirname "$0")/.."
dest=${1:-reports}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-reports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
mkdir -p "$dest"
n=0
for scn in scenarios/*.ini; do
    stem=$(basename "$scn" .ini)
    if grep -Eq '^(throughput *= *measured|chip *= *this-machine)' "$scn"; then
        echo "skipped $scn (uses this machine's measurements)"
        continue
    fi
    ./tokensim run --reproducible --quiet --db "$tmp/$stem.db" --out "$tmp/out" "$scn" >/dev/null
    rm -rf "${dest:?}/$stem"
    mv "$tmp/out/$stem-1" "$dest/$stem"
    echo "$dest/$stem/"
    n=$((n + 1))
done
echo "$n example reports in $dest/"
