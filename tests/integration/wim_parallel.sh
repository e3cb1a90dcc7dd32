#!/usr/bin/env bash
# A WIM import on the workers writes what the import on one thread writes
# (TSMEDIA_THREADS=1): the same WIM imported both ways gives byte-identical
# packs and the same catalog rows, in the same order.  The WIMs are made by
# wimlib-imagex (which nobody here wrote) from one tree, in the layouts the
# importer reads itself (XPRESS, LZX with small and with large chunks,
# uncompressed: every blob in a resource of its own, read from the file,
# chunks decompressed on the workers) and in one it leaves to wimlib's
# stream (solid LZMS).  The tree mixes small and large files, compressible
# and not, duplicates, an empty file and a symlink (a reparse point, whose
# data the importer keeps in memory).  Every file read back matches its
# source; a WIM with a damaged chunk is refused and changes nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v wimlib-imagex >/dev/null || skip "wimlib-imagex is not installed (Debian: wimtools)"
W=wimlib-imagex

TREE=$WORK/tree
mkdir -p "$TREE/Windows/System32/drivers" "$TREE/Program Files/App"
rand() { { openssl enc -aes-128-ctr -pbkdf2 -iter 1 -nosalt -pass "pass:$1" </dev/zero 2>/dev/null || true; } | head -c "$2"; }
python3 - "$TREE" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(19)
dirs = ["Windows", "Windows/System32", "Windows/System32/drivers", "Program Files/App"]
for i in range(300):
    size = rnd.choice([0, 1, 100, 4096, 32768, 32769, 70000, 300000])
    if i % 3 == 0:
        data = (b"compressible %d " % i) * (size // 16 + 1)
    else:
        data = rnd.randbytes(size)
    with open(os.path.join(root, dirs[i % 4], "f%04d.dll" % i), "wb") as f:
        f.write(data[:size])
PY
# Large files: more than one of the store's 8 MiB buffers, not a whole
# number of WIM chunks; random (stored as it is) and text (compressed).
rand big1 $((11 * 1024 * 1024 + 4097)) >"$TREE/Windows/System32/big1.bin"
python3 -c 'import sys; sys.stdout.write("".join("log line %d of the text file\n" % i for i in range(400000)))' \
	>"$TREE/Windows/System32/big.log"
python3 -c 'import sys; sys.stdout.write("".join("small text line %d\n" % i for i in range(12000)))' \
	>"$TREE/Windows/small.txt"
cp "$TREE/Windows/System32/f0001.dll" "$TREE/Program Files/App/dup-of-f0001.dll"
ln -s ../System32/big.log "$TREE/Windows/System32/drivers/link.log"
nfiles=$(find "$TREE" -type f | wc -l)

# import_with WIM THREADS OUT: both stores at the same path in turn (the
# catalog records the source); the import's debug output in OUT.log.
import_with() {
	local store=$WORK/store
	rm -rf "$store"
	tsm "$store" init --site-code PAR --compression zstd >/dev/null
	TSMEDIA_THREADS=$2 tsm "$store" -v content add --kind os-image --name os --id PAR00001 "$1" \
		>/dev/null 2>"$3.log"
	mv "$store" "$3"
}

# The rows a WIM's import adds to those same_stores (lib.sh) compares: its
# resources, and the Windows metadata, streams and security descriptors.
WIM_ROWS=("SELECT * FROM blob_wim_resources ORDER BY blob"
	"SELECT * FROM win_meta ORDER BY 1, 2"
	"SELECT * FROM win_streams ORDER BY 1, 2, 3"
	"SELECT * FROM win_security ORDER BY 1")

# read_back STORE WHAT: every file of the tree, the empty one included,
# through the store.
read_back() {
	local f n=0
	while IFS= read -r -d '' f; do
		f=${f#"$TREE"/}
		tsm "$1" content cat PAR00001 "$f" >"$WORK/out" || fail "$2: content cat '$f' failed"
		cmp -s "$WORK/out" "$TREE/$f" || fail "$2: '$f' read back differs from its source"
		n=$((n + 1))
	done < <(find "$TREE" -type f -print0)
	assert_eq "$n" "$(find "$TREE" -type f | wc -l)" "$2: files read back"
	assert_ge "$(find "$TREE" -type f -empty | wc -l)" 1 "$2: an empty file among them"
}

for layout in xpress lzx lzx-2m none solid; do
	case $layout in
	xpress) opts=(--compress=XPRESS) ;;
	lzx) opts=(--compress=LZX) ;;
	lzx-2m) opts=(--compress=LZX --chunk-size=2M) ;;
	none) opts=(--compress=none) ;;
	solid) opts=(--solid) ;;
	esac
	check "a WIM ($layout) of $nfiles files imported on one thread and on four"
	$W capture "$TREE" "$WORK/$layout.wim" "Windows" "${opts[@]}" >/dev/null
	$W verify "$WORK/$layout.wim" >/dev/null || fail "wimlib-imagex does not accept its own $layout WIM"
	import_with "$WORK/$layout.wim" 1 "$WORK/one-$layout"
	import_with "$WORK/$layout.wim" 4 "$WORK/many-$layout"
	# Which path read the data: the importer itself, or wimlib's stream.
	for s in one many; do
		if [[ $layout == solid ]]; then
			grep -q "wimlib reads the data" "$WORK/$s-$layout.log" ||
				fail "$layout: the solid WIM was not left to wimlib's stream: $(head -c 600 "$WORK/$s-$layout.log")"
		else
			grep -q "blobs read from the WIM's resources" "$WORK/$s-$layout.log" ||
				fail "$layout: the importer did not read the blobs itself: $(head -c 600 "$WORK/$s-$layout.log")"
		fi
	done
	same_stores "$WORK/one-$layout" "$WORK/many-$layout" "$layout" "${WIM_ROWS[@]}"
	# The other layouts hold the same blobs (checked below).
	[[ $layout == xpress ]] && read_back "$WORK/many-$layout" "$layout"
	tsm "$WORK/many-$layout" verify >/dev/null || fail "$layout: tsmedia verify fails on the store"
done

check "the same data in every layout: the same blobs"
for layout in lzx lzx-2m none solid; do
	assert_eq "$(sqlite3 "$WORK/many-$layout/catalog.db" 'SELECT hex(sha256), hex(sha1), size FROM blobs ORDER BY sha256' | sha256sum)" \
		"$(sqlite3 "$WORK/many-xpress/catalog.db" 'SELECT hex(sha256), hex(sha1), size FROM blobs ORDER BY sha256' | sha256sum)" \
		"blobs of the $layout WIM and of the XPRESS one"
done

check "a WIM with a damaged chunk is refused, on one thread and on four, and changes nothing"
# A byte in the middle of a file's compressed resource (its offset and
# size as wimlib-imagex lists them): a large file (read alone, its chunks
# on the workers) and a small one (read with others, whole on a worker).
damage() { # damage FILE OUT
	local sha1 off csize
	sha1=$(sha1sum "$TREE/$1" | cut -d' ' -f1)
	read -r off csize < <($W info "$WORK/xpress.wim" --blobs | awk -v h="0x$sha1" '
		/^Hash/ { cur = $3 } cur == h && /^Compressed size/ { c = $4 } cur == h && /^Offset in WIM/ { o = $5 }
		END { print o, c }')
	[[ -n $off && -n $csize ]] || fail "$1: its resource is not in wimlib-imagex's blob list"
	cp "$WORK/xpress.wim" "$2"
	python3 - "$2" $((off + csize / 2)) <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0x5a]))
PY
}
for f in Windows/System32/big.log Windows/small.txt; do
	name=$(basename "$f")
	damage "$f" "$WORK/damaged-$name.wim"
	for threads in 1 4; do
		store=$WORK/damaged-store-$name-$threads
		tsm "$store" init --site-code PAR >/dev/null
		TSMEDIA_THREADS=$threads refused_unchanged "$store" "damaged $name, $threads thread(s)" \
			"damaged-$(re_escape "$name")\.wim: nothing was imported: .*$(re_escape "$name").*(SHA-1 mismatch|does not decompress)" \
			-- tsm "$store" content add --kind os-image --name os "$WORK/damaged-$name.wim"
	done
done

check "a WIM whose chunk table places a chunk past its resource is refused, naming the chunk, and changes nothing"
# The large text file's resource starts with its chunk table (a 4-byte
# start per chunk after the first, MS-WIM / wimlib's resource.h); entry 100
# set to 0xffffffff puts the end of chunk 100 far past the resource.  The
# importer reads this table itself, a stretch at a time
# (tsm_wim_res_stream), and must refuse it before reading or allocating.
sha1=$(sha1sum "$TREE/Windows/System32/big.log" | cut -d' ' -f1)
off=$($W info "$WORK/xpress.wim" --blobs | awk -v h="0x$sha1" '
	/^Hash/ { cur = $3 } cur == h && /^Offset in WIM/ { print $5 }')
[[ -n $off ]] || fail "big.log: its resource is not in wimlib-imagex's blob list"
cp "$WORK/xpress.wim" "$WORK/bad-table.wim"
printf '\xff\xff\xff\xff' | dd of="$WORK/bad-table.wim" bs=1 seek=$((off + 4 * 100)) conv=notrunc status=none
for threads in 1 4; do
	store=$WORK/bad-table-store-$threads
	tsm "$store" init --site-code PAR >/dev/null
	TSMEDIA_THREADS=$threads refused_unchanged "$store" "bad chunk table, $threads thread(s)" \
		"bad-table\.wim: nothing was imported: .*big\.log.*chunk 100 of [0-9]+ lies at bytes [0-9]+-[0-9]+ of [0-9]+" \
		-- tsm "$store" content add --kind os-image --name os "$WORK/bad-table.wim"
done

pass
