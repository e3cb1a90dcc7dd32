#!/usr/bin/env bash
# Damage after the first read is never served, through the mount:
#  - a pack written to after its chunks were read and checked: EIO;
#  - damage that keeps the pack's size and mtime (a failing disk): the scrub
#    (-o scrub=) finds it, names the pack, and the range reads as EIO;
#  - a truncated pack: EIO for what lay past its new end, not a short read;
#  - verify and verify --since name the pack.
# Every block that does read equals the export made before any damage.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fs_require

store=$WORK/store
mnt=$WORK/mnt
init_store "$store" --compression none # raw chunks: the zero-copy path
mkdir -p "$WORK/src"
randfile "$WORK/src/f.bin" $((6 << 20))
id=$(add_content "$store" --kind package --name damaged "$WORK/src")
tsm "$store" -q media create --type data --name m1 --content "$id" --no-udf >/dev/null
tsm "$store" media export m1 -o "$WORK/m1.iso"
fs_start "$store" "$mnt" -o scrub=1s
wait_until 5 test -e "$mnt/m1.iso" || fail "m1.iso is not listed"

# blocks FILE: "<good> <eio> <wrong>": 256 KiB blocks read one by one
# (O_DIRECT is not needed: the mount serves direct I/O), each compared with
# the export.
blocks() {
	python3 - "$1" "$WORK/m1.iso" <<'PY'
import errno, os, sys
good = eio = wrong = 0
B = 256 * 1024
with open(sys.argv[2], "rb") as ref:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    size = os.fstat(fd).st_size
    for off in range(0, size, B):
        want = os.pread(ref.fileno(), B, off)
        try:
            got = os.pread(fd, B, off)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            eio += 1
            continue
        if got == want:
            good += 1
        else:
            wrong += 1
    os.close(fd)
print(good, eio, wrong)
PY
}
expect_blocks() { # WHAT: some EIO, none wrong
	local r
	r=$(blocks "$mnt/m1.iso")
	note "$1: good/EIO/wrong blocks: $r"
	read -r g e w <<<"$r"
	assert_eq "$w" 0 "$1: blocks with wrong bytes"
	((e > 0)) || fail "$1: no block failed with EIO"
	((g > 0)) || fail "$1: no block read at all (the damage is one chunk)"
}
expect_intact() {
	local r
	r=$(blocks "$mnt/m1.iso")
	assert_eq "$r" "$(($(stat -c %s "$WORK/m1.iso") / 262144 + ($(stat -c %s "$WORK/m1.iso") % 262144 > 0))) 0 0" \
		"$1: good/EIO/wrong blocks"
}

# A chunk in the middle of f.bin: its pack and offset.
read -r pack off size < <(sqlite3 -separator ' ' "$store/catalog.db" \
	"SELECT c.pack, c.offset, c.size FROM blob_chunks b JOIN chunks c ON c.id = b.chunk
	 JOIN tree_entries t ON t.blob = b.blob WHERE t.path LIKE '%f.bin'
	 ORDER BY b.seq LIMIT 1 OFFSET 3")
packfile=$store/packs/$(printf 'pack-%08d.pack' "$pack")
cp -p "$packfile" "$WORK/pack.orig"
note "damaging $packfile at $((off + size / 2)) (chunk at $off, $size bytes)"
flip() { # write 64 bytes of garbage into the chunk, in place
	head -c 64 /dev/urandom | dd of="$packfile" bs=1 seek=$((off + size / 2)) conv=notrunc status=none
}
restore() {
	cat "$WORK/pack.orig" >"$packfile"
}

check "first read: every block right (and every chunk now checked)"
expect_intact "first read"

check "the pack is written to after that read: EIO for the damaged chunk, no wrong bytes"
flip
expect_blocks "after an in-place write"
check "verify names the pack; verify --since names it"
expect_fail_with "$(basename "$packfile")" -- tsm "$store" verify
expect_fail_with "$(basename "$packfile").*checksum mismatch|checksum mismatch.*$(basename "$packfile")" -- \
	tsm "$store" verify --since 1h
restore
expect_intact "after restoring the pack"

check "verify --since records clean packs and skips them until they change"
sleep 1.1 # times are whole seconds: a pack changed in the second a check starts is checked again
tsm "$store" verify --since @0 >"$WORK/v.out" || fail "verify --since @0 failed on an intact store"
tsm "$store" verify --since 1h >"$WORK/v.out" || fail "verify --since 1h failed"
grep -q "^ok: 0 packs checked" "$WORK/v.out" || fail "verify --since 1h checked packs it had just found good: $(cat "$WORK/v.out")"
expect_fail_with "invalid --since" -- tsm "$store" verify --since yesterdayish

check "damage that keeps the pack's size and mtime: the scrub finds it; then EIO, no wrong bytes"
expect_intact "before the silent damage"
mtime=$(stat -c '%.9Y' "$packfile")
scrub_reports() { grep -c "scrub: .* damaged chunks in 1 of" "$WORK/daemon.log" || true; }
reports_before=$(scrub_reports)
flip
touch -m -d "@$mtime" "$packfile"
assert_eq "$(stat -c '%.9Y' "$packfile")" "$mtime" "the pack's mtime was put back"
# A report from after the damage: the earlier damage may have been
# reported too, and a pass may have begun before this damage.
new_report() { (($(scrub_reports) >= reports_before + 2)); }
wait_until 10 new_report ||
	fail "the scrub did not report the damage within 10 s: $(tail -5 "$WORK/daemon.log")"
grep -q "$(basename "$packfile")" "$WORK/daemon.log" || fail "the scrub did not name the pack"
expect_blocks "after the scrub"
restore
expect_intact "after restoring the pack"

check "a truncated pack: EIO past its new end, not a short read"
# Cut in the middle of the fourth chunk from the end of f.bin.
read -r toff tsize < <(sqlite3 -separator ' ' "$store/catalog.db" \
	"SELECT c.offset, c.size FROM blob_chunks b JOIN chunks c ON c.id = b.chunk
	 JOIN tree_entries t ON t.blob = b.blob WHERE t.path LIKE '%f.bin'
	 ORDER BY b.seq DESC LIMIT 1 OFFSET 3")
truncate -s $((toff + tsize / 2)) "$packfile"
expect_blocks "after truncating the pack"
r=$(cat "$mnt/m1.iso" 2>&1 >/dev/null || true)
[[ $r == *"Input/output error"* ]] || fail "reading the whole file did not fail with EIO: '$r'"
expect_fail_with "$(basename "$packfile").*truncated" -- tsm "$store" verify
restore
expect_intact "after restoring the pack"
assert_eq "$(stat -c %s "$mnt/m1.iso")" "$(stat -c %s "$WORK/m1.iso")" "m1.iso size"
fs_stop "$mnt"
pass
