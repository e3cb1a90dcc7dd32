#!/usr/bin/env bash
# The mount's listing follows the catalog: media rm, content rm, gc,
# content add, media create (findings/mount/fs_min.sh), 100 times on one
# mount; each time the new media is listed alone and reads its own bytes.
# A media that cannot be served for a while is retried, not forgotten.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fs_require
command -v xorriso >/dev/null || skip "xorriso is not installed (Debian: xorriso)"

RUNS=${FS_LISTING_RUNS:-100}
store=$WORK/store
mnt=$WORK/mnt
init_store "$store"
mkdir -p "$WORK/src0"
randfile "$WORK/src0/f.bin" 300000
id=$(add_content "$store" --kind package --name c0 "$WORK/src0")
tsm "$store" media create --type data --name m0 --content "$id" --no-udf >/dev/null
fs_start "$store" "$mnt"
wait_until 5 test -e "$mnt/m0.iso" || fail "m0.iso is not listed after mounting"

# The media files at the root (versions/ beside them is fs_versions.sh's).
listing() { ls "$mnt" | { grep -vx versions || true; } | tr '\n' ' '; }
lists_only() { [[ $(listing) == "$1 " ]]; }

check "the fs_min sequence $RUNS times: the listing shows the new media alone, with its bytes"
# Meanwhile a reader opens, reads and closes whatever is listed, so opens,
# releases and forgets race with the refreshes; what the listing names
# is pinned, so an open never finds its snapshot collected (ESTALE).
: >"$WORK/bg.run"
(
	while [[ -e $WORK/bg.run ]]; do
		for f in "$mnt"/*.iso; do
			head -c 65536 "$f" >/dev/null 2>>"$WORK/bg.err" || true
		done
	done
) &
bg_pid=$!
at_exit "rm -f '$WORK/bg.run'; kill $bg_pid"
good=0
bad_runs=()
prev=m0
for i in $(seq "$RUNS"); do
	name=m$((i % 2))
	[[ $name == "$prev" ]] && name=m$(((i + 1) % 2))
	src=$WORK/src$i
	mkdir -p "$src"
	randfile "$src/f.bin" 300000
	tsm "$store" -q media rm "$prev" >/dev/null
	tsm "$store" -q content rm "$id" >/dev/null
	tsm "$store" -q gc >/dev/null
	id=$(add_content "$store" --kind package --name "c$i" "$src")
	tsm "$store" -q media create --type data --name "$name" --content "$id" --no-udf >/dev/null
	ok=1
	if ! wait_until 5 lists_only "$name.iso"; then
		ok=0
		note "run $i: listing '$(listing)', expected '$name.iso' alone"
	else
		rm -f "$WORK/x.bin"
		xorriso -osirrox on -indev "$mnt/$name.iso" -extract /f.bin "$WORK/x.bin" \
			>"$WORK/xorriso.log" 2>&1 || true
		if [[ ! -f $WORK/x.bin || $(sha "$WORK/x.bin") != "$(sha "$src/f.bin")" ]]; then
			ok=0
			note "run $i: $name.iso f.bin does not read back as its source"
		fi
	fi
	if ((ok)); then good=$((good + 1)); else bad_runs+=("$i"); fi
	rm -rf "$WORK/src$((i - 1))"
	prev=$name
done
rm -f "$WORK/bg.run"
wait "$bg_pid" || true
echo "listing followed the catalog in $good of $RUNS runs"
stale=$(grep -c "Stale file handle" "$WORK/bg.err" || true)
assert_eq "$stale" 0 "opens of listed files that found their snapshot collected (ESTALE)"
((good == RUNS)) || fail "the listing or the bytes were wrong in runs: ${bad_runs[*]}"

check "a media that cannot be served yet is retried, not marked seen"
# Without a pins directory the mount cannot pin the new snapshot (it must
# pin before it lists), so the media waits; once pins/ is back it appears
# with no further change to the catalog.
mv "$store/pins" "$store/pins.away"
: >"$store/pins"
mkdir -p "$WORK/late"
randfile "$WORK/late/f.bin" 1000
idl=$(add_content "$store" --kind package --name late "$WORK/late")
tsm "$store" -q media create --type data --name late --content "$idl" --no-udf >/dev/null
sleep 1.5
[[ $(listing) != *late.iso* ]] || fail "late.iso is listed though its snapshot could not be pinned"
grep -q "media 'late': not refreshed" "$WORK/daemon.log" ||
	fail "the failure to serve 'late' was not reported: $(tail -5 "$WORK/daemon.log")"
[[ $(listing) == *"$prev.iso"* ]] || fail "$prev.iso went away while 'late' failed"
rm "$store/pins"
mv "$store/pins.away" "$store/pins"
wait_until 40 lists_only "late.iso $prev.iso" ||
	fail "late.iso did not appear after the cause went away: listing '$(listing)'"

check "the listing pins what it names; gc reclaims a media once it is no longer listed"
late_mv=$(sqlite3 "$store/catalog.db" "SELECT id FROM media_versions WHERE media = 'late'")
grep -qx "media-version $late_mv" "$store"/pins/*.pin ||
	fail "no pin names the listed media version $late_mv"
tsm "$store" -q media rm late >/dev/null
wait_until 5 lists_only "$prev.iso" || fail "late.iso is still listed after media rm"
tsm "$store" -q gc >/dev/null
assert_eq "$(sqlite3 "$store/catalog.db" "SELECT count(*) FROM media_versions WHERE id = $late_mv")" 0 \
	"gc kept the media version the listing no longer names"
fs_stop "$mnt"
pass
