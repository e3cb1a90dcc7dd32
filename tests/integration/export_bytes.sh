#!/usr/bin/env bash
# `media export` and `mkiso` write the mount's bytes, whichever way the
# bytes reach the output: pack ranges copied in the kernel (a file on the
# same file system), sendfile or read and write where that is refused (a
# pipe, an O_APPEND file, another file system), chunks stored compressed
# (from memory).  xorriso, not our reader, judges the ISO's files.  A damaged
# chunk makes both fail, naming the pack, with no output file left and never
# a wrong byte on standard output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fs_require
command -v xorriso >/dev/null || skip "xorriso is not installed (Debian: xorriso)"

KiB=1024
MiB=$((1024 * 1024))
SRC=$WORK/src
mkdir -p "$SRC/big" "$SRC/small/a" "$SRC/small/b"
randfile "$SRC/big/one.bin" $((9 * MiB + 123))
randfile "$SRC/big/two.bin" $((5 * MiB))
cp "$SRC/big/two.bin" "$SRC/big/two-again.bin" # the same chunks twice in the image
for i in $(seq 1 40); do randfile "$SRC/small/$((i % 2 ? 1 : 0))$i.dat" $((i * 997 % (70 * KiB) + 1)); done
mv "$SRC"/small/0* "$SRC/small/a/"
mv "$SRC"/small/1* "$SRC/small/b/"
python3 -c 'import sys; open(sys.argv[1], "w").write("compressible line\n" * 200000)' "$SRC/text.txt"
: >"$SRC/empty"

# Another file system than $WORK's, when there is one at hand.
OTHER=
for d in /dev/shm /tmp /var/tmp; do
	if [[ -d $d && -w $d ]] && [[ $(stat -f -c %T "$d") != "$(stat -f -c %T "$WORK")" ||
		$(stat -c %d "$d") != "$(stat -c %d "$WORK")" ]]; then
		OTHER=$(mktemp -d "$d/tsmedia-export-bytes.XXXXXX")
		at_exit "rm -rf '$OTHER'"
		break
	fi
done

# same WHAT FILE REF: FILE holds REF's bytes.
same() {
	cmp "$2" "$3" || fail "$1: differs from $(basename "$3")"
}

# outputs STORE NAME ID: every way out of both commands equals the mount.
outputs() {
	local store=$1 name=$2 id=$3 mnt=$WORK/mnt-$2 out=$WORK/out-$2
	mkdir -p "$out"
	tsm "$store" -q media create --type data --name "$name" --content "$id" >/dev/null
	fs_start "$store" "$mnt"
	wait_until 5 test -e "$mnt/$name.iso" || fail "$name.iso is not listed"
	cp "$mnt/$name.iso" "$out/mount.iso"

	check "[$name] media export: a file, a pipe, an O_APPEND file, a directory"
	tsm "$store" media export "$name" -o "$out/export.iso"
	same "export to a file" "$out/export.iso" "$out/mount.iso"
	tsm "$store" media export "$name" -o - | cat >"$out/pipe.iso"
	same "export to a pipe" "$out/pipe.iso" "$out/mount.iso"
	printf 'head' >"$out/append.iso"
	tsm "$store" media export "$name" -o - >>"$out/append.iso"
	tail -c +5 "$out/append.iso" >"$out/append.tail"
	assert_eq "$(head -c 4 "$out/append.iso")" head "what was in the O_APPEND file before"
	same "export to an O_APPEND file" "$out/append.tail" "$out/mount.iso"
	tsm "$store" -q media export "$name" -o "$out/dir/"
	same "export to a directory" "$out/dir/$name.iso" "$out/mount.iso"
	if [[ -n $OTHER ]]; then
		tsm "$store" media export "$name" -o "$OTHER/$name.iso"
		same "export to $OTHER (another file system)" "$OTHER/$name.iso" "$out/mount.iso"
		rm -f "$OTHER/$name.iso"
	else
		skip_part "[$name] no other file system than $WORK's to export to"
	fi
	fs_stop "$mnt"

	check "[$name] mkiso: a file and a pipe give the same bytes, and xorriso reads every file back"
	tsm "$store" -q mkiso -o "$out/mkiso.iso" -V EXPORT "$id"
	tsm "$store" -q mkiso -o - -V EXPORT "$id" | cat >"$out/mkiso-pipe.iso"
	same "mkiso to a pipe" "$out/mkiso-pipe.iso" "$out/mkiso.iso"
	if [[ -n $OTHER ]]; then
		tsm "$store" -q mkiso -o "$OTHER/mkiso.iso" -V EXPORT "$id"
		same "mkiso to $OTHER" "$OTHER/mkiso.iso" "$out/mkiso.iso"
		rm -f "$OTHER/mkiso.iso"
	fi
	for iso in "$out/mount.iso" "$out/mkiso.iso"; do
		rm -rf "$out/x"
		xorriso -osirrox on -indev "$iso" -extract / "$out/x" >/dev/null 2>"$out/xorriso.err" ||
			fail "xorriso cannot extract $(basename "$iso"): $(tail -3 "$out/xorriso.err")"
		chmod -R u+w "$out/x"
		diff -r "$SRC" "$out/x" >/dev/null || fail "$(basename "$iso"): xorriso's files differ from the source"
	done
}

check "a store of raw chunks: pack ranges go to the output"
init_store "$WORK/raw" --compression none
RAW_ID=$(add_content "$WORK/raw" --kind package --name raw "$SRC")
outputs "$WORK/raw" raw "$RAW_ID"

check "a store of compressed chunks: their bytes come from memory"
init_store "$WORK/zstd" --compression zstd
Z_ID=$(add_content "$WORK/zstd" --kind package --name zstd "$SRC")
outputs "$WORK/zstd" zstd "$Z_ID"

check "a damaged chunk in the middle of big/one.bin: both commands fail and leave nothing"
store=$WORK/raw
read -r pack off size < <(sqlite3 -separator ' ' "$store/catalog.db" \
	"SELECT c.pack, c.offset, c.size FROM blob_chunks b JOIN chunks c ON c.id = b.chunk
	 JOIN tree_entries t ON t.blob = b.blob WHERE t.path LIKE '%one.bin'
	 ORDER BY b.seq LIMIT 1 OFFSET 50")
[[ -n $pack ]] || fail "no chunk 50 of one.bin in the catalog"
packfile=$store/packs/$(printf 'pack-%08d.pack' "$pack")
printf 'DAMAGE' | dd of="$packfile" bs=1 seek=$((off + size / 2)) conv=notrunc status=none
packname=$(basename "$packfile")
expect_fail_with "$packname" -- tsm "$store" media export raw -o "$WORK/damaged.iso"
[[ ! -e $WORK/damaged.iso ]] || fail "media export left $WORK/damaged.iso behind"
expect_fail_with "$packname" -- tsm "$store" mkiso -o "$WORK/damaged2.iso" "$RAW_ID"
[[ ! -e $WORK/damaged2.iso ]] || fail "mkiso left $WORK/damaged2.iso behind"
check "on standard output: what was written is a strict prefix of the right bytes"
rc=0
tsm "$store" media export raw -o - >"$WORK/damaged.out" 2>"$WORK/damaged.err" || rc=$?
((rc != 0 && rc < 124)) || fail "media export -o - of a damaged media: exit $rc"
got=$(stat -c %s "$WORK/damaged.out")
((got < $(stat -c %s "$WORK/out-raw/mount.iso"))) || fail "media export -o - wrote the whole size"
cmp -n "$got" "$WORK/damaged.out" "$WORK/out-raw/mount.iso" || fail "media export -o - wrote wrong bytes before failing"
note "$got bytes written before the damaged chunk, all right"
pass
