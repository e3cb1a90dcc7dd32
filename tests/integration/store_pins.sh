#!/usr/bin/env bash
# Reader pins as gc reads them: a live pin keeps every version it names,
# however long the pin is (a snapshot of a media with many items names them
# all), and a live pin gc cannot read whole stops gc with a message naming
# it, the store unchanged.  A pin whose owner is gone is removed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v flock >/dev/null || skip "flock is not installed (Debian: util-linux)"

STORE=$WORK/store
init_store "$STORE" --compression none
mkdir -p "$WORK/v1" "$WORK/v2"
randfile "$WORK/v1/old.bin" $((1024 * 1024))
randfile "$WORK/v2/new.bin" $((1024 * 1024))
id=$(add_content "$STORE" --kind package --name P --version 1 "$WORK/v1")
add_content "$STORE" --kind package --name P --version 2 --id "$id" "$WORK/v2" >/dev/null
old=$(sqlite3 "$STORE/catalog.db" "SELECT min(id) FROM content_versions WHERE content='$id'")
nversions() { sqlite3 "$STORE/catalog.db" "SELECT count(*) FROM content_versions WHERE content='$id'"; }
assert_eq "$(nversions)" 2 "versions before gc"

# hold_pin NAME: a pin file held locked by a live process, as a reader holds
# its own; HOLDER is that process.
hold_pin() {
	flock -o "$STORE/pins/$1" sleep 600 &
	HOLDER=$!
	at_exit "pkill -P $HOLDER; kill $HOLDER"
	wait_until 10 pin_locked "$STORE/pins/$1" || fail "the pin $1 was not locked in 10 s"
}
pin_locked() { ! flock -n "$1" true; }

check "a live pin of 300 lines that names the superseded version last keeps it through gc"
{
	for i in $(seq 299); do echo "content-version $((1000000 + i))"; done
	echo "content-version $old"
} >"$STORE/pins/99999-1.pin"
assert_ge "$(stat -c %s "$STORE/pins/99999-1.pin")" 4096 "the pin's size"
hold_pin 99999-1.pin
tsm "$STORE" gc >/dev/null 2>"$WORK/gc.err" || fail "gc failed: $(cat "$WORK/gc.err")"
assert_eq "$(nversions)" 2 "versions after gc with the long pin held (the pinned one was removed)"

check "once its owner is gone, the pin is removed and the superseded version goes"
# Its sleep ends, and flock, which holds the lock, exits with it.
pkill -P "$HOLDER" || true
kill "$HOLDER" 2>/dev/null || true
wait "$HOLDER" 2>/dev/null || true
tsm "$STORE" gc >/dev/null 2>"$WORK/gc.err" || fail "gc failed: $(cat "$WORK/gc.err")"
assert_eq "$(nversions)" 1 "versions after gc with no pin"
[[ -e $STORE/pins/99999-1.pin ]] && fail "the dead owner's pin is still there"

check "a live pin gc cannot understand stops gc, naming it, the store unchanged"
add_content "$STORE" --kind package --name P --version 3 --id "$id" "$WORK/v1" >/dev/null
printf 'content-version 12\nsomething-else 7\n' >"$STORE/pins/99999-2.pin"
hold_pin 99999-2.pin
before=$(catalog_digest "$STORE")
bytes=$(pack_bytes "$STORE")
expect_fail_with "pins/99999-2.pin: cannot read this reader's pin whole" -- tsm "$STORE" gc
assert_eq "$(catalog_digest "$STORE")" "$before" "catalog after the refused gc"
assert_eq "$(pack_bytes "$STORE")" "$bytes" "packs after the refused gc"
verify_ok "$STORE"
pass
