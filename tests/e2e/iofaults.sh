#!/bin/sh
# End-to-end: I/O faults get a clear error and exit 1, and earlier results stay intact: a corrupt
# database, one locked past the busy timeout, a full disk under the report folder and under the
# database (small tmpfs mounts: root only, else skipped), a read-only database and a read-only
# report folder (run as user nobody through setpriv: root only, else skipped). Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-io.XXXXXX") || exit 1
MNT=""
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
SCN=scenarios/deepseek-day-margin.ini
run() { "$TS" run --quiet "$@" >"$TMP/o" 2>"$TMP/e"; }
intact() { # $1 = db: run 1 done with its metrics, integrity ok
    [ "$(sqlite3 "$1" "pragma integrity_check")" = ok ] || addwhy "$1: integrity_check failed"
    [ "$(sqlite3 "$1" "select status from runs where id = 1")" = done ] &&
        [ "$(sqlite3 "$1" "select count(*) from metrics where run_id = 1")" -gt 0 ] ||
        addwhy "$1: the earlier run is not intact"
}

why=
head -c 6000 /dev/urandom >"$TMP/corrupt.db"
cp "$TMP/corrupt.db" "$TMP/corrupt.copy"
run --db "$TMP/corrupt.db" --out "$TMP/out" "$SCN"; rc=$?
[ "$rc" -eq 1 ] || addwhy "exit $rc, want 1"
grep -q "^tokensim: .*corrupt.db: cannot read it as a SQLite database" "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
cmp -s "$TMP/corrupt.db" "$TMP/corrupt.copy" || addwhy "the corrupt file was changed"
report "a corrupt database: clear error, exit 1, the file untouched"

why=
run --db "$TMP/l.db" --out "$TMP/out" "$SCN" || addwhy "first run failed"
(echo "BEGIN EXCLUSIVE;"; sleep 7; echo "COMMIT;") | sqlite3 "$TMP/l.db" &
holder=$!
sleep 0.5
run --db "$TMP/l.db" --out "$TMP/out" "$SCN"; rc=$?
wait "$holder"
[ "$rc" -eq 1 ] || addwhy "exit $rc, want 1"
grep -q "database is locked" "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
intact "$TMP/l.db"
[ "$(sqlite3 "$TMP/l.db" "select count(*) from runs")" = 1 ] || addwhy "a row of the locked-out run stayed"
report "a database locked past the busy timeout: clear error, exit 1, earlier run intact"

if [ "$(id -u)" = 0 ] && mkdir -p "$TMP/mnt" && mount -t tmpfs -o size=600k tmpfs "$TMP/mnt" 2>/dev/null; then
    MNT="$TMP/mnt"
    why=
    run --db "$TMP/f.db" --out "$TMP/out" "$SCN" || addwhy "first run failed"
    dd if=/dev/zero of="$MNT/fill" bs=1k count=560 2>/dev/null
    run --db "$TMP/f.db" --out "$MNT/out" scenarios/uncertain-power.ini; rc=$?
    [ "$rc" -eq 1 ] || addwhy "exit $rc, want 1"
    grep -q "No space left on device" "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
    find "$MNT/out" -name '.*.tmp' | grep -q . && addwhy "temporary files left: $(find "$MNT/out" -name '.*.tmp')"
    intact "$TMP/f.db"
    report "a full disk under the report folder: clear error, exit 1, no temporary files left"

    why=
    rm -f "$MNT/fill"
    run --db "$MNT/d.db" --out "$TMP/out" "$SCN" || addwhy "first run on the small disk failed: $(cat "$TMP/e")"
    # fill all but 64 KiB: room to open the database (-wal, -shm), none for the run's rows
    avail=$(df -k "$MNT" | awk 'NR == 2 { print $4 }')
    dd if=/dev/zero of="$MNT/fill" bs=1k count=$((avail - 64)) 2>/dev/null
    run --db "$MNT/d.db" --out "$TMP/out" scenarios/uncertain-power.ini; rc=$?
    [ "$rc" -eq 1 ] || addwhy "exit $rc, want 1"
    grep -qi "full\|No space" "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
    rm -f "$MNT/fill"
    intact "$MNT/d.db"
    [ "$(sqlite3 "$MNT/d.db" "select count(*) from runs where status = 'done'")" = 1 ] ||
        addwhy "the full-disk run is marked done"
    report "a full disk under the database: clear error, exit 1, earlier run intact"
    umount "$MNT" && MNT=""
else
    echo "ok - a full disk under the report folder # SKIP needs root to mount a tmpfs"
    echo "ok - a full disk under the database # SKIP needs root to mount a tmpfs"
fi

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    chmod 755 "$TMP"
    why=
    run --db "$TMP/ro.db" --out "$TMP/out" "$SCN" || addwhy "first run failed"
    chmod 444 "$TMP/ro.db"
    nobody "$TS" run --quiet --db "$TMP/ro.db" --out "$TMP/out" "$SCN" >"$TMP/o" 2>"$TMP/e"; rc=$?
    [ "$rc" -eq 1 ] || addwhy "exit $rc, want 1"
    grep -q "ro.db: the database is read-only" "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
    intact "$TMP/ro.db"
    report "a read-only database: clear error, exit 1, earlier run intact"

    why=
    mkdir -p "$TMP/rw" "$TMP/ro-out"
    chmod 777 "$TMP/rw"
    chmod 555 "$TMP/ro-out"
    nobody "$TS" run --quiet --db "$TMP/rw/w.db" --out "$TMP/rw/out" "$SCN" >/dev/null 2>&1 ||
        addwhy "first run as nobody failed"
    nobody "$TS" run --quiet --db "$TMP/rw/w.db" --out "$TMP/ro-out" "$SCN" >"$TMP/o" 2>"$TMP/e"; rc=$?
    [ "$rc" -eq 1 ] || addwhy "exit $rc, want 1"
    grep -q "cannot create folder .*ro-out.*Permission denied" "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
    intact "$TMP/rw/w.db"
    [ "$(sqlite3 "$TMP/rw/w.db" "select status from runs where id = 2")" = failed ] ||
        addwhy "the run that could not write its report is not marked failed"
    report "a read-only report folder: clear error, exit 1, the run marked failed, earlier intact"
else
    echo "ok - a read-only database # SKIP needs root to switch to user nobody"
    echo "ok - a read-only report folder # SKIP needs root to switch to user nobody"
fi

[ "$failed" -eq 0 ]
