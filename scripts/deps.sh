#!/bin/sh
# Installs the Debian packages tokensim needs, only those that are missing.
# Runs apt-get as root, through `sudo -n` otherwise, and says what to do when neither works.
set -u
# Usage: scripts/deps.sh [--test|--mpi|--fuzz]; --test adds what only the tests need (chromium,
# for the headless check that report.html renders with every image; Open MPI, so that the tests
# also build and run `make MPI=1`); --mpi adds Open MPI alone (mpicc and mpirun for make MPI=1).
PKGS="libsqlite3-dev sqlite3 libgsl-dev libcsv-dev libinih-dev libjansson-dev libcmocka-dev gnuplot-nox pkg-config librandom123-dev"
# --fuzz adds clang and its libFuzzer runtime (make fuzz).
MPI_PKGS="libopenmpi-dev openmpi-bin"
[ "${1:-}" = "--test" ] && PKGS="$PKGS chromium $MPI_PKGS"
[ "${1:-}" = "--mpi" ] && PKGS="$PKGS $MPI_PKGS"
[ "${1:-}" = "--fuzz" ] && PKGS="$PKGS clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
echo "tokensim: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" = 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run="sudo -n"
else
    echo "tokensim: missing packages:$missing" >&2
    echo "tokensim: not root and no password-less sudo; run as root:" >&2
    echo "    apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$run apt-get update -qq >&2 || { echo "tokensim: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
$run apt-get install -y -qq --no-install-recommends $missing >&2 ||
    { echo "tokensim: apt-get install failed for:$missing" >&2; exit 1; }
