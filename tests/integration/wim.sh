#!/usr/bin/env bash
# WIMs both ways, judged by wimlib-imagex (which nobody here wrote):
# WIMs made by wimlib-imagex (LZX, solid LZMS, split, multi-image, from an
# NTFS volume with security descriptors and named streams) are imported;
# every WIM tsmedia writes (single, multi-image, split) must pass
# `wimlib-imagex verify`, list exactly like its source in `wimlib-imagex dir
# --detailed` (attributes, security descriptors, times, short names, named
# streams, reparse tags, link counts, hashes) and apply to the same bytes,
# sizes, modes and nanosecond mtimes; imports dedup against the store;
# hostile WIMs fail with their own message and change nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v wimlib-imagex >/dev/null || skip "wimlib-imagex is not installed (Debian: wimtools)"
REAL=${WIM_REAL_TREE:-/usr/lib/python3}
[[ -d $REAL ]] || skip "no real tree at $REAL to capture"

STORE=$WORK/store
init_store "$STORE"
W=wimlib-imagex

now() { date +%s.%N; }
rate() { python3 -c "import sys; b, t = float(sys.argv[1]), float(sys.argv[2]); print('%.1f MB/s (%.2f s)' % (b / 1e6 / max(t, 1e-9), t))" "$1" "$2"; }

# Listing of one image with what is the WIM's and not the file's left out
# (where the data lie, compressed sizes, reference counts, link group
# numbers: these depend on the writer, not on the content).
listing() {
	local wim=$1 img=$2
	shift 2
	$W dir "$wim" "$img" --detailed "$@" 2>/dev/null |
		grep -vE '^(Compressed size|Offset in WIM|Part Number|Reference Count|Flags|Link Group ID|Solid resource|Solid offset) ' ||
		fail "wimlib-imagex dir $wim $img failed"
}

# same_listing A IMG_A B IMG_B [REFARGS...]
same_listing() {
	listing "$1" "$2" >"$WORK/l1" || true
	shift 2
	listing "$@" >"$WORK/l2" || true
	[[ -s $WORK/l1 ]] || fail "empty listing"
	diff -u "$WORK/l1" "$WORK/l2" >"$WORK/l.diff" ||
		fail "wimlib-imagex dir --detailed differs: $(head -40 "$WORK/l.diff")"
}

verify_wim() {
	$W verify "$@" >"$WORK/verify.out" 2>&1 || fail "wimlib-imagex verify $* failed: $(tail -5 "$WORK/verify.out")"
}

# tree_facts DIR: every entry's type, size, mode, mtime (to 100 ns, what a
# WIM keeps) and, for files, SHA-256; symlinks with their targets.
tree_facts() {
	(cd "$1" && find . -mindepth 1 -printf '%y %s %m %T@ %p -> %l\n' | LC_ALL=C sort) |
		awk '$1 == "d" { $2 = "-" } { $4 = substr($4, 1, length($4) - 3); print }'
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# same_tree A B MSG: two applied trees are the same files.
same_tree() {
	tree_facts "$1" >"$WORK/t1"
	tree_facts "$2" >"$WORK/t2"
	diff -u "$WORK/t1" "$WORK/t2" >"$WORK/t.diff" || fail "$3: $(head -30 "$WORK/t.diff")"
}

# apply WIM IMG DIR [ARGS...]
apply() {
	rm -rf "$3"
	$W apply "$1" "$2" "$3" "${@:4}" >"$WORK/apply.out" 2>&1 ||
		fail "wimlib-imagex apply $1 $2 failed: $(tail -5 "$WORK/apply.out")"
}

export_wim() {
	local id=$1 out=$2
	shift 2
	tsm "$STORE" -q content export "$id" -o "$out" "$@" || fail "content export $id -o $out $* failed"
}

# ------------------------------------------------------------------ a small tree, two images
check "multi-image LZX WIM (hard links, symlinks, empty files, Unicode): import, export, verify, dir, apply"
SRC=$WORK/src
mkdir -p "$SRC/dir one/deeper" "$SRC/한국어" "$SRC/empty"
randfile "$SRC/big.bin" $((3 * 1024 * 1024 + 17))
randfile "$SRC/dir one/mid.dat" 100000
cp "$SRC/dir one/mid.dat" "$SRC/dir one/deeper/same-content.dat"
printf 'hello\n' >"$SRC/한국어/안녕.txt"
: >"$SRC/empty.txt"
ln "$SRC/big.bin" "$SRC/big-hardlink.bin"
ln -s "dir one/mid.dat" "$SRC/link-to-mid"
ln -s ../big.bin "$SRC/dir one/up-link"
chmod 0600 "$SRC/dir one/mid.dat"
touch -d '2001-02-03 04:05:06.123456789' "$SRC/한국어/안녕.txt"
SRC2=$WORK/src2
cp -a "$SRC" "$SRC2"
randfile "$SRC2/only-in-two.bin" 50000
$W capture "$SRC" "$WORK/multi.wim" "One" "first image" --compress=LZX --unix-data >/dev/null 2>&1 ||
	fail "wimlib-imagex capture failed"
$W append "$SRC2" "$WORK/multi.wim" "Two" --unix-data >/dev/null 2>&1 || fail "wimlib-imagex append failed"
$W info "$WORK/multi.wim" 2 --boot >/dev/null 2>&1 || fail "wimlib-imagex info --boot failed"
# (As an OS image: a boot image WIM is kept whole with its boot files; winpe_boot.sh.)
ID_MULTI=$(add_content "$STORE" --kind os-image --name multi "$WORK/multi.wim")
show_json "$STORE" "$ID_MULTI" "$WORK/multi.json"
grep -q '"1/big.bin"' "$WORK/multi.json" || fail "image 1 is not under 1/"
grep -q '"2/only-in-two.bin"' "$WORK/multi.json" || fail "image 2 is not under 2/"
export_wim "$ID_MULTI" "$WORK/multi-out.wim"
verify_wim "$WORK/multi-out.wim"
for i in 1 2; do
	same_listing "$WORK/multi.wim" $i "$WORK/multi-out.wim" $i
	apply "$WORK/multi.wim" $i "$WORK/a-orig-$i" --unix-data
	apply "$WORK/multi-out.wim" $i "$WORK/a-out-$i" --unix-data
	same_tree "$WORK/a-orig-$i" "$WORK/a-out-$i" "image $i applies differently from the original"
done
same_tree "$SRC" "$WORK/a-out-1" "image 1 applied is not the source tree"
same_tree "$SRC2" "$WORK/a-out-2" "image 2 applied is not the source tree"
[[ $(stat -c %i "$WORK/a-out-1/big.bin") == $(stat -c %i "$WORK/a-out-1/big-hardlink.bin") ]] ||
	fail "the hard link did not come back as a hard link"
$W info "$WORK/multi-out.wim" >"$WORK/info.out" 2>&1
grep -qE '^Boot Index: +2$' "$WORK/info.out" || fail "boot index lost: $(grep Boot "$WORK/info.out")"
grep -qE '^Image Count: +2$' "$WORK/info.out" || fail "image count"
grep -qE '^Name: +One$' "$WORK/info.out" && grep -qE '^Name: +Two$' "$WORK/info.out" || fail "image names lost"
grep -qE '^Description: +first image$' "$WORK/info.out" || fail "image description lost"

check "the writer is deterministic"
export_wim "$ID_MULTI" "$WORK/multi-out2.wim"
cmp "$WORK/multi-out.wim" "$WORK/multi-out2.wim" || fail "two exports of one version differ"

check "--index: one image, imported alone and exported alone"
PACKS=$(pack_bytes "$STORE")
ID_TWO=$(add_content "$STORE" --kind os-image --name two --index 2 "$WORK/multi.wim")
assert_eq "$(pack_bytes "$STORE")" "$PACKS" "packs grew importing an image whose files are all stored"
export_wim "$ID_TWO" "$WORK/two.wim"
verify_wim "$WORK/two.wim"
same_listing "$WORK/multi.wim" 2 "$WORK/two.wim" 1
export_wim "$ID_MULTI" "$WORK/one.wim" --index 1
same_listing "$WORK/multi.wim" 1 "$WORK/one.wim" 1
expect_fail_with 'no image 3|not image 3' -- tsm "$STORE" content add --kind os-image --name x --index 3 "$WORK/multi.wim"

check "solid (LZMS) WIM"
$W capture "$SRC" "$WORK/solid.wim" "Solid" --solid >/dev/null 2>&1 || fail "solid capture failed"
ID_SOLID=$(add_content "$STORE" --kind os-image --name solid "$WORK/solid.wim")
export_wim "$ID_SOLID" "$WORK/solid-out.wim"
verify_wim "$WORK/solid-out.wim"
same_listing "$WORK/solid.wim" 1 "$WORK/solid-out.wim" 1

# ------------------------------------------------------------------ split
check "split sets both ways: a wimlib-imagex .swm set imports; our --split parts are under the limit and verify"
$W split "$WORK/multi.wim" "$WORK/in.swm" 1 >/dev/null 2>&1 || fail "wimlib-imagex split failed"
NPARTS_IN=$(ls "$WORK"/in*.swm | wc -l)
assert_ge "$NPARTS_IN" 2 "wimlib-imagex split made one part"
ID_SWM=$(add_content "$STORE" --kind os-image --name swm "$WORK/in.swm")
export_wim "$ID_SWM" "$WORK/from-swm.wim"
verify_wim "$WORK/from-swm.wim"
for i in 1 2; do same_listing "$WORK/multi.wim" $i "$WORK/from-swm.wim" $i; done
LIMIT=$((1536 * 1024))
# big.bin (3 MiB) cannot fit a 1.5 MiB part: a resource never spans parts.
expect_fail_with 'cannot fit in a part' -- tsm "$STORE" content export "$ID_MULTI" -o "$WORK/out.swm" --split $LIMIT
LIMIT=$((4 * 1024 * 1024))
SPLITSRC=$WORK/splitsrc
mkdir -p "$SPLITSRC/d"
for n in $(seq 1 12); do randfile "$SPLITSRC/d/f$n.bin" $((700 * 1024 + n)); done
ID_SPLITSRC=$(add_content "$STORE" --kind os-image --name splitsrc "$SPLITSRC")
export_wim "$ID_SPLITSRC" "$WORK/out.swm" --split $LIMIT
PARTS=("$WORK"/out*.swm)
assert_ge "${#PARTS[@]}" 3 "number of .swm parts"
for p in "${PARTS[@]}"; do
	assert_le "$(stat -c %s "$p")" $LIMIT "size of $p"
done
verify_wim "$WORK/out.swm" --ref="$WORK/out*.swm"
apply "$WORK/out.swm" 1 "$WORK/a-split" --ref="$WORK/out*.swm"
same_tree "$SPLITSRC" "$WORK/a-split" "the split set applies differently from its source"
expect_fail_with 'invalid --split' -- tsm "$STORE" content export "$ID_SPLITSRC" -o "$WORK/x.swm" --split 12Q

# ------------------------------------------------------------------ NTFS: security descriptors, named streams
if command -v mkntfs >/dev/null && command -v ntfscp >/dev/null; then
	check "WIM captured from an NTFS volume: security descriptors, named data streams, short names"
	VOL=$WORK/vol.img
	truncate -s 32M "$VOL"
	mkntfs -F -f -q "$VOL" >/dev/null 2>&1 || fail "mkntfs failed"
	printf 'main data\n' >"$WORK/main.txt"
	printf 'zone identifier\n' >"$WORK/zone.txt"
	randfile "$WORK/ads.bin" 70000
	ntfscp -q "$VOL" "$WORK/main.txt" "/Program Files.txt" >/dev/null 2>&1 || fail "ntfscp failed"
	ntfscp -q -N Zone.Identifier "$VOL" "$WORK/zone.txt" "/Program Files.txt" >/dev/null 2>&1 || fail "ntfscp -N failed"
	ntfscp -q -N big "$VOL" "$WORK/ads.bin" "/Program Files.txt" >/dev/null 2>&1 || fail "ntfscp -N failed"
	ntfscp -q "$VOL" "$WORK/ads.bin" "/plain.bin" >/dev/null 2>&1 || fail "ntfscp failed"
	$W capture "$VOL" "$WORK/ntfs.wim" "NTFS" --compress=LZX >/dev/null 2>&1 || fail "capture of the NTFS volume failed"
	listing "$WORK/ntfs.wim" 1 | grep -q 'Named data stream "Zone.Identifier"' || fail "the test WIM has no named stream"
	listing "$WORK/ntfs.wim" 1 | grep -q 'Security Descriptor = ' || fail "the test WIM has no security descriptors"
	ID_NTFS=$(add_content "$STORE" --kind os-image --name ntfs "$WORK/ntfs.wim")
	export_wim "$ID_NTFS" "$WORK/ntfs-out.wim"
	verify_wim "$WORK/ntfs-out.wim"
	same_listing "$WORK/ntfs.wim" 1 "$WORK/ntfs-out.wim" 1
	check "tsmedia capture --ntfs of the volume"
	ID_CAPN=$(tsm "$STORE" -q capture --name capn --ntfs "$VOL") || fail "tsmedia capture --ntfs failed"
	export_wim "$ID_CAPN" "$WORK/capn.wim"
	verify_wim "$WORK/capn.wim"
	same_listing "$WORK/ntfs.wim" 1 "$WORK/capn.wim" 1
else
	skip_part "mkntfs/ntfscp missing (Debian: ntfs-3g): no NTFS security descriptors or named streams"
fi

check "tsmedia capture of a directory"
ID_CAP=$(tsm "$STORE" -q capture --name captured --unix-data "$SRC") || fail "tsmedia capture failed"
[[ -z $(find "$STORE" -maxdepth 1 -name 'capture-*') ]] || fail "capture left its temporary WIM behind"
export_wim "$ID_CAP" "$WORK/cap.wim"
verify_wim "$WORK/cap.wim"
apply "$WORK/cap.wim" 1 "$WORK/a-cap" --unix-data
same_tree "$SRC" "$WORK/a-cap" "the captured directory applies differently"

check "any content (a directory import) exports as a one-image WIM"
export_wim "$ID_SPLITSRC" "$WORK/plain.wim"
verify_wim "$WORK/plain.wim"
apply "$WORK/plain.wim" 1 "$WORK/a-plain"
diff -r "$SPLITSRC" "$WORK/a-plain" >/dev/null || fail "plain content applies differently"

# ------------------------------------------------------------------ a real tree, LZX
check "a real tree ($REAL) captured with LZX: import, export, apply; dedup on re-import"
T0=$(now)
$W capture "$REAL" "$WORK/real.wim" "Real" --compress=LZX >/dev/null 2>"$WORK/cap.err" ||
	fail "capture of $REAL failed: $(tail -3 "$WORK/cap.err")"
T1=$(now)
REAL_BYTES=$($W info "$WORK/real.wim" 1 | awk -F: '/^Total Bytes/ { gsub(/[^0-9]/, "", $2); print $2 }')
note "real.wim: $(stat -c %s "$WORK/real.wim") bytes for $REAL_BYTES bytes of files (capture $(python3 -c "print('%.2f' % ($T1 - $T0))") s)"
T0=$(now)
apply "$WORK/real.wim" 1 "$WORK/a-real-orig"
T1=$(now)
APPLY_T=$(python3 -c "print($T1 - $T0)")
PACKS0=$(pack_bytes "$STORE")
T0=$(now)
ID_REAL=$(add_content "$STORE" --kind os-image --name real "$WORK/real.wim")
T1=$(now)
IMPORT_T=$(python3 -c "print($T1 - $T0)")
PACKS1=$(pack_bytes "$STORE")
T0=$(now)
export_wim "$ID_REAL" "$WORK/real-out.wim"
T1=$(now)
EXPORT_T=$(python3 -c "print($T1 - $T0)")
verify_wim "$WORK/real-out.wim"
same_listing "$WORK/real.wim" 1 "$WORK/real-out.wim" 1
apply "$WORK/real-out.wim" 1 "$WORK/a-real-out"
same_tree "$WORK/a-real-orig" "$WORK/a-real-out" "the real tree applies differently from the original WIM"
diff -r --no-dereference "$REAL" "$WORK/a-real-out" >"$WORK/real.diff" 2>&1 ||
	fail "the applied real tree differs from $REAL: $(head -5 "$WORK/real.diff")"
echo "FIGURES: import of real.wim (LZX, $REAL_BYTES bytes of files): $(rate "$REAL_BYTES" "$IMPORT_T")"
echo "FIGURES: wimlib-imagex apply of real.wim:                   $(rate "$REAL_BYTES" "$APPLY_T")"
echo "FIGURES: export of the stored image as a WIM:               $(rate "$(stat -c %s "$WORK/real-out.wim")" "$EXPORT_T")"

ID_REAL2=$(add_content "$STORE" --kind os-image --name real-again "$WORK/real.wim")
assert_eq "$(pack_bytes "$STORE")" "$PACKS1" "packs grew importing the same WIM twice"
# A second WIM sharing most files: a copy with one new file and one changed.
REAL2=$WORK/real2
cp -a "$REAL" "$REAL2"
randfile "$REAL2/new-file.bin" 300000
randfile "$REAL2/changed-file.bin" 200000
$W capture "$REAL2" "$WORK/real2.wim" "Real2" --compress=LZX >/dev/null 2>&1 || fail "capture of the copy failed"
ID_REAL3=$(add_content "$STORE" --kind os-image --name real2 "$WORK/real2.wim")
GROWTH=$(($(pack_bytes "$STORE") - PACKS1))
note "second WIM sharing most files: the packs grew by $GROWTH bytes (new files: 500000)"
assert_le "$GROWTH" $((500000 + 256 * 1024)) "growth importing a WIM that shares most files"
assert_ge "$PACKS1" $((PACKS0 + 1)) "the first import stored nothing"

# ------------------------------------------------------------------ hostile WIMs
check "hostile WIMs: each fails with its own message and changes nothing"
HSRC=$WORK/hsrc
mkdir -p "$HSRC/sub/inner"
printf 'BADSHA-MARKER-0123456789\n' >"$HSRC/marker.txt"
printf 'x\n' >"$HSRC/sub/zz"
randfile "$HSRC/sub/inner/data.bin" 40000
python3 -c "import sys; sys.stdout.write('compressible line of text\n' * 8000)" >"$HSRC/text.txt"
$W capture "$HSRC" "$WORK/h.wim" "H" --compress=none >/dev/null 2>&1 || fail "capture (none) failed"
$W capture "$HSRC" "$WORK/hlzx.wim" "H" --compress=LZX >/dev/null 2>&1 || fail "capture (LZX) failed"

# hostile MODE IN OUT: patch a WIM (wimlib's on-disk format, see
# core/image/wim.c), keeping the metadata resource's SHA-1 right so that
# wimlib reads the damage itself.
hostile() {
	python3 - "$@" <<'EOF'
import hashlib, struct, sys
mode, src, out = sys.argv[1:4]
d = bytearray(open(src, 'rb').read())
def reshdr(off):
    size = int.from_bytes(d[off:off + 7], 'little')
    return size, d[off + 7], struct.unpack_from('<QQ', d, off + 8)
bt_size, _, (bt_off, _) = reshdr(48)
entries = [bt_off + i * 50 for i in range(bt_size // 50)]
meta = [e for e in entries if d[e + 7] & 2][0]
m_size, _, (m_off, _) = reshdr(meta)
def fix_meta_hash():
    h = hashlib.sha1(bytes(d[m_off:m_off + m_size])).digest()
    d[meta + 30:meta + 50] = h
def dentries():
    sd_len = struct.unpack_from('<I', d, m_off)[0]
    sd_len = (sd_len + 7) & ~7
    root = m_off + sd_len
    out, todo = [], [struct.unpack_from('<Q', d, root + 16)[0]]
    while todo:
        p = m_off + todo.pop()
        while True:
            ln = struct.unpack_from('<Q', d, p)[0]
            if ln == 0:
                break
            nlen = struct.unpack_from('<H', d, p + 100)[0]
            name = bytes(d[p + 102:p + 102 + nlen]).decode('utf-16-le')
            attr = struct.unpack_from('<I', d, p + 8)[0]
            sub = struct.unpack_from('<Q', d, p + 16)[0]
            out.append((p, name, attr, sub))
            if attr & 0x10 and sub:
                todo.append(sub)
            nx = struct.unpack_from('<H', d, p + 96)[0]
            p += ln
            for _ in range(nx):
                p += struct.unpack_from('<Q', d, p)[0]
    return root, out
if mode == 'badsha':
    i = d.index(b'BADSHA-MARKER')
    d[i] ^= 0x20
elif mode == 'dotdot':
    root, ents = dentries()
    p = [e for e in ents if e[1] == 'zz'][0][0]
    d[p + 102:p + 106] = '..'.encode('utf-16-le')
    fix_meta_hash()
elif mode == 'cycle':
    root, ents = dentries()
    rootsub = struct.unpack_from('<Q', d, root + 16)[0]
    p = [e for e in ents if e[1] == 'inner'][0][0]
    struct.pack_into('<Q', d, p + 16, rootsub)
    fix_meta_hash()
elif mode == 'absurd':
    for e in entries:
        if d[e + 7] & 4 and not d[e + 7] & 2:
            struct.pack_into('<Q', d, e + 16, 1 << 45)
            break
    else:
        sys.exit('no compressed blob to patch')
else:
    sys.exit('unknown mode ' + mode)
open(out, 'wb').write(d)
EOF
}
hostile badsha "$WORK/h.wim" "$WORK/badsha.wim"
hostile dotdot "$WORK/h.wim" "$WORK/dotdot.wim"
hostile cycle "$WORK/h.wim" "$WORK/cycle.wim"
hostile absurd "$WORK/hlzx.wim" "$WORK/absurd.wim"
head -c $(($(stat -c %s "$WORK/hlzx.wim") * 2 / 3)) "$WORK/hlzx.wim" >"$WORK/trunc.wim"
head -c 100 "$WORK/hlzx.wim" >"$WORK/trunc-hdr.wim"
mkdir -p "$WORK/swm-missing"
cp "$WORK"/in*.swm "$WORK/swm-missing/"
rm "$WORK/swm-missing/in2.swm"

DIGEST=$(catalog_digest "$STORE")
PACKS=$(pack_bytes "$STORE")
hostile_case() {
	local re=$1 wim=$2
	expect_fail_with "$re" -- tsm "$STORE" content add --kind os-image --name bad "$wim"
	grep -q -F "$wim" "$LAST_STDERR" || fail "the message does not name the file $wim: $(cat "$LAST_STDERR")"
	assert_eq "$(catalog_digest "$STORE")" "$DIGEST" "catalog changed by a failed import of $wim"
	assert_eq "$(pack_bytes "$STORE")" "$PACKS" "packs changed by a failed import of $wim"
}
hostile_case 'SHA-1' "$WORK/badsha.wim"
hostile_case "'\\.\\.'" "$WORK/dotdot.wim"
hostile_case 'cyclic' "$WORK/cycle.wim"
hostile_case 'far more bytes than its compressed resource' "$WORK/absurd.wim"
hostile_case 'truncated' "$WORK/trunc.wim"
hostile_case 'truncated|not a WIM|header' "$WORK/trunc-hdr.wim"
hostile_case 'part 2 of the 2-part split set is missing|part 2 of the [0-9]+-part split set is missing' "$WORK/swm-missing/in.swm"

# ------------------------------------------------------------------ gc
check "gc: Windows metadata of removed content goes, blobs of named streams stay while used"
for id in $(json_ids "$STORE"); do
	[[ $id == "${ID_NTFS:-}" ]] && continue
	tsm "$STORE" -q content rm "$id" >/dev/null || fail "content rm $id"
done
tsm "$STORE" -q gc >/dev/null || fail "gc failed"
verify_ok "$STORE"
if [[ -n ${ID_NTFS:-} ]]; then
	export_wim "$ID_NTFS" "$WORK/ntfs-after-gc.wim"
	verify_wim "$WORK/ntfs-after-gc.wim"
	same_listing "$WORK/ntfs.wim" 1 "$WORK/ntfs-after-gc.wim" 1
	tsm "$STORE" -q content rm "$ID_NTFS" >/dev/null
	tsm "$STORE" -q gc >/dev/null || fail "gc failed"
fi
ROWS=$(sqlite3 "file:$STORE/catalog.db?mode=ro" "SELECT (SELECT count(*) FROM win_meta) + (SELECT count(*) FROM win_streams) + (SELECT count(*) FROM win_security) + (SELECT count(*) FROM blobs)")
assert_eq "$ROWS" 0 "rows left after removing everything and gc"
pass
