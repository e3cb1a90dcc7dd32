#!/usr/bin/env bash
# Hostile inputs to the importers (../shared/findings/wim/* and the UDF
# image changed between scan and import, findings/iso-udf-toctou): each is
# refused with a message naming the file and what is wrong, or imported
# right, never a crash; in bounded memory (RSS < 256 MB for the importer and
# every process it starts) and time (a hang guard only); a refused input
# leaves the catalog and the packs as they were.  Also the filetime clamp:
# a WIM dated past year 30828 imports with the latest time Windows knows.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FINDINGS=$(cd "$TESTS_DIR/../.." && pwd)/../shared/findings
[[ -d $FINDINGS/wim && -d $FINDINGS/iso-udf-toctou ]] ||
	skip "no findings at $FINDINGS (../shared/findings beside the checkout)"
command -v flock >/dev/null || skip "flock is not installed (Debian: util-linux)"

RSS_MAX_KB=$((256 * 1024))
WALL_MAX=10 # seconds: a hang guard, not a speed test

# measure OUT -- CMD...: runs CMD (stdout, stderr to OUT.out, OUT.err) and
# writes "EXIT WALL_S MAXRSS_KB" to OUT: maxrss is the largest of CMD and
# every process it waited for (getrusage(RUSAGE_CHILDREN)), so a reader in
# a child process counts.  EXIT is 128+N for signal N.
measure() {
	local out=$1
	shift 2
	python3 - "$out" "$@" <<'EOF'
import resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t = time.monotonic()
with open(out + '.out', 'wb') as o, open(out + '.err', 'wb') as e:
    try:
        rc = subprocess.run(cmd, stdout=o, stderr=e, timeout=120).returncode
    except subprocess.TimeoutExpired:
        rc = 124
wall = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(out, 'w').write('%d %.3f %d\n' % (rc if rc >= 0 else 128 - rc, wall, rss))
EOF
}

# bounded OUT WHAT: the measured run stayed within the bounds.
bounded() {
	local rc wall rss
	read -r rc wall rss <"$1"
	((rc < 128)) || fail "$2: killed by signal $((rc - 128)) (crash?): $(tail -c 600 "$1.err")"
	((rc != 124)) || fail "$2: timed out"
	((rss < RSS_MAX_KB)) || fail "$2: $((rss / 1024)) MB of RSS (at most $((RSS_MAX_KB / 1024)))"
	python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$wall" "$WALL_MAX" ||
		fail "$2: took $wall s (hang guard: $WALL_MAX s)"
	note "$2: exit $rc, $wall s, $((rss / 1024)) MB RSS"
}

STORE=$WORK/store
init_store "$STORE"
# Something in the store already, so that "unchanged" means something.
mkdir -p "$WORK/seed"
randfile "$WORK/seed/f.bin" 200000
add_content "$STORE" --kind package --name seed "$WORK/seed" >/dev/null

# refused FILE REGEX: content add of FILE fails, bounded, with a message
# naming FILE and matching REGEX; catalog and packs unchanged.
refused() {
	local file=$1 re=$2 name digest packs rc
	name=$(basename "$file")
	digest=$(catalog_digest "$STORE")
	packs=$(pack_bytes "$STORE")
	measure "$WORK/m" -- "$TSMEDIA" --store "$STORE" -q content add --kind os-image --name bad "$file"
	bounded "$WORK/m" "$name"
	read -r rc _ <"$WORK/m"
	((rc != 0)) || fail "$name was imported; it must be refused"
	grep -q -F "$file" "$WORK/m.err" || fail "$name: the message does not name the file: $(cat "$WORK/m.err")"
	grep -Eq -- "$re" "$WORK/m.err" || fail "$name: the message does not match /$re/: $(cat "$WORK/m.err")"
	note "  $(head -n 1 "$WORK/m.err" | head -c 300)"
	assert_eq "$(catalog_digest "$STORE")" "$digest" "catalog changed by the refused import of $name"
	assert_eq "$(pack_bytes "$STORE")" "$packs" "packs changed by the refused import of $name"
}

# ------------------------------------------------------------------ WIM findings
check "every WIM finding: refused (or, for the far-future dates, imported with clamped times), bounded"
# What each finding must be refused for; a finding not listed here must
# still be refused with a message naming it.
declare -A WHY=(
	[asan-alloc-too-big-in-wimlib-987c3651.wim]='not a usable WIM: its XML data'
	[oom-0435c815474a8e5e5dac9d75b76875c6d798efd4]='not a usable WIM: its blob table is marked compressed'
	[oom-104233fb6a89d6d3aa02c02a5a8498efd04181b9]='not a usable WIM: its blob table is [0-9]+ bytes in the file but claims'
	[oom-11b5ab51ffa948971b1a45e3dc1d308caa6e163b]='not a usable WIM: its blob table is marked compressed'
	[crash-1f60809b8446bbd2ec341c2c1ffe42cd81815120]='entries wimlib refuses'
	[crash-9363f62fa99b27b11a081a294b5d0f2fd50f1893]='cannot export an image'
	[ubsan-filetime-overflow-f56d21ce.wim]='cannot export an image'
)
FUTURE=ubsan-crafted-filetime-year33658.wim
n=0
for f in "$FINDINGS"/wim/*; do
	name=$(basename "$f")
	[[ $name == "$FUTURE" ]] && continue
	refused "$f" "${WHY[$name]:-error: }"
	n=$((n + 1))
done
((n >= 7)) || fail "only $n WIM findings found in $FINDINGS/wim"

check "a WIM dated past year 30828 ($FUTURE): imported, times clamped to the last FILETIME Windows accepts"
if [[ -f $FINDINGS/wim/$FUTURE ]]; then
	measure "$WORK/m" -- "$TSMEDIA" --store "$STORE" -q content add --kind os-image --name future "$FINDINGS/wim/$FUTURE"
	bounded "$WORK/m" "$FUTURE"
	read -r rc _ <"$WORK/m"
	((rc == 0)) || fail "$FUTURE was not imported: $(cat "$WORK/m.err")"
	ID=$(grep -E "$ID_RE" "$WORK/m.out")
	# FileTimeToSystemTime() takes FILETIMEs below 2^63 (year 30828);
	# the POSIX mtime saturates at the largest nanosecond count.
	FT=$(sqlite3 "file:$STORE/catalog.db?mode=ro" "SELECT DISTINCT w.write_ft FROM win_meta w JOIN content_versions v ON v.id = w.version WHERE v.content = '$ID' AND w.path = 'future.txt'")
	assert_eq "$FT" 9223372036854775807 "write time of future.txt"
	show_json "$STORE" "$ID" "$WORK/future.json"
	assert_eq "$("${PYHELP[@]}" get "$WORK/future.json" files.0.mtime_ns)" 9223372036854775807 "mtime_ns of future.txt"
	verify_ok "$STORE"
else
	skip_part "$FUTURE is not among the findings"
fi

# ------------------------------------------------------------------ a crafted header field at a time
check "WIM header fields checked before wimlib reads them (one field broken at a time)"
mkdir -p "$WORK/wsrc/d"
printf 'hello\n' >"$WORK/wsrc/a.txt"
randfile "$WORK/wsrc/d/b.bin" 300000
if command -v wimlib-imagex >/dev/null; then
	wimlib-imagex capture "$WORK/wsrc" "$WORK/good.wim" --compress=LZX >/dev/null 2>&1 ||
		fail "wimlib-imagex capture failed"
	# patch OUT OFFSET FORMAT VALUE: one little-endian field of the header.
	patch() {
		python3 - "$WORK/good.wim" "$1" "$2" "$3" "$4" <<'EOF'
import struct, sys
src, out, off, fmt, val = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5], 0)
d = bytearray(open(src, 'rb').read())
struct.pack_into('<' + fmt, d, off, val)
open(out, 'wb').write(d)
EOF
	}
	# Offsets: Microsoft's WIM format, WIMHEADER_V1_PACKED.
	patch "$WORK/w-hdrsize.wim" 8 I 200
	patch "$WORK/w-version.wim" 12 I 0x10c00
	patch "$WORK/w-chunk.wim" 20 I 4096
	patch "$WORK/w-part.wim" 40 H 3
	patch "$WORK/w-images.wim" 44 I 4000000000
	patch "$WORK/w-btsize.wim" 48 Q 0x0200000000100000
	patch "$WORK/w-xmloff.wim" 80 Q 0x7fffffffffff
	patch "$WORK/w-boot.wim" 120 I 7
	head -c 150 "$WORK/good.wim" >"$WORK/w-short.wim"
	refused "$WORK/w-hdrsize.wim" 'header size is 200 bytes'
	refused "$WORK/w-version.wim" 'unknown WIM version 0x10c00'
	refused "$WORK/w-chunk.wim" 'chunk size is 4096 bytes \(LZX takes'
	refused "$WORK/w-part.wim" 'part 3 of 1'
	refused "$WORK/w-images.wim" 'says 4000000000 images, more than its blob table'
	refused "$WORK/w-btsize.wim" 'blob table .*past the end of the file|blob table is [0-9]+ bytes in the file but claims'
	refused "$WORK/w-xmloff.wim" 'XML data .*past the end of the file'
	refused "$WORK/w-boot.wim" 'boot index is 7, but it has 1 image'
	refused "$WORK/w-short.wim" 'too short for its 208-byte header'
	# A solid resource (version 0xe00) whose own header names a chunk
	# size wimlib would allocate 128 MiB buffers for.
	wimlib-imagex capture "$WORK/wsrc" "$WORK/solid.wim" --solid >/dev/null 2>&1 ||
		fail "wimlib-imagex capture --solid failed"
	python3 - "$WORK/solid.wim" "$WORK/w-solidchunk.wim" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
assert struct.unpack_from('<I', d, 12)[0] == 0xe00, 'not a solid WIM'
size = int.from_bytes(d[48:55], 'little')
off = struct.unpack_from('<Q', d, 56)[0]
for e in range(off, off + size, 50):
    flags = d[e + 7]
    if flags & 0x10 and struct.unpack_from('<Q', d, e + 16)[0] == 0x100000000:
        res = struct.unpack_from('<Q', d, e + 8)[0]
        struct.pack_into('<I', d, res + 8, 1 << 27)   # alt_chunk_table_header_disk.chunk_size
        break
else:
    sys.exit('no solid resource entry')
open(sys.argv[2], 'wb').write(d)
EOF
	refused "$WORK/w-solidchunk.wim" 'solid resource [0-9]+ has chunk size 134217728'
	ID=$(add_content "$STORE" --kind os-image --name good "$WORK/good.wim")
	manifest "$WORK/wsrc" "$WORK/wsrc.json" >/dev/null
	cat_check "$STORE" "$ID" "$WORK/wsrc.json" >/dev/null
	ID=$(add_content "$STORE" --kind os-image --name solid "$WORK/solid.wim")
	cat_check "$STORE" "$ID" "$WORK/wsrc.json" >/dev/null
else
	skip_part "wimlib-imagex is not installed (Debian: wimtools): no crafted headers"
fi

# ------------------------------------------------------------------ ISO: the image changes between scan and import
check "UDF image rewritten between the scan and the import (findings/iso-udf-toctou): the scanned bytes, or a clear error"
T=$FINDINGS/iso-udf-toctou
gzip -dc "$T/A.iso.gz" >"$WORK/A.iso"
cp "$WORK/A.iso" "$WORK/B.iso"
dd if="$T/B-sector262.bin" of="$WORK/B.iso" conv=notrunc bs=2048 seek=262 count=1 status=none
# The right bytes: what the image held when it was scanned.
REF=$WORK/ref-store
init_store "$REF"
ID_A=$(add_content "$REF" --kind boot-image --name a "$WORK/A.iso")
show_json "$REF" "$ID_A" "$WORK/a.json"
python3 -c '
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    print(f["path"], f["type"], f.get("size"), f.get("sha256"))' "$WORK/a.json" >"$WORK/a.files"
# The image as it is afterwards, imported whole, is refused.
cp "$WORK/B.iso" "$WORK/changed.iso"
refused "$WORK/changed.iso" "claims [0-9]+ bytes but holds [0-9]+ in its UDF entry"

RACE=$WORK/race
init_store "$RACE"
cp "$WORK/A.iso" "$WORK/P.iso"
DIGEST=$(catalog_digest "$RACE")
# The import scans, then waits for the store's lock (held here), and the
# image changes while it waits.
flock "$RACE/lock" -c "sleep 4" &
LOCKER=$!
sleep 0.5
measure "$WORK/race.m" -- "$TSMEDIA" --store "$RACE" -q content add --kind boot-image --name p "$WORK/P.iso" &
ADDER=$!
sleep 2
dd if="$T/B-sector262.bin" of="$WORK/P.iso" conv=notrunc bs=2048 seek=262 count=1 status=none
wait "$LOCKER" "$ADDER"
WALL_MAX=20 bounded "$WORK/race.m" "import of an image changed while it waited for the lock"
read -r rc _ <"$WORK/race.m"
if ((rc == 0)); then
	ID=$(grep -E "$ID_RE" "$WORK/race.m.out")
	show_json "$RACE" "$ID" "$WORK/p.json"
	python3 -c '
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    print(f["path"], f["type"], f.get("size"), f.get("sha256"))' "$WORK/p.json" >"$WORK/p.files"
	diff -u "$WORK/a.files" "$WORK/p.files" >"$WORK/race.diff" ||
		fail "the import of the changed image holds other files than the scanned image: $(cat "$WORK/race.diff")"
	note "imported the bytes the scan checked"
else
	grep -q -F "$WORK/P.iso" "$WORK/race.m.err" || fail "the message does not name the image: $(cat "$WORK/race.m.err")"
	assert_eq "$(catalog_digest "$RACE")" "$DIGEST" "catalog changed by the failed import"
	note "refused: $(head -n 1 "$WORK/race.m.err")"
fi

pass
