#!/usr/bin/env bash
# tsmedia mkiso judged by tools nobody here wrote: xorriso, isoinfo
# (genisoimage), iso-info (libcdio), udfinfo (udftools), 7z (reads UDF
# first) and bsdtar (ISO 9660 + Rock Ridge).  Every listing must match the
# source tree and every extracted file its source's SHA-256; building twice
# gives the same bytes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for t in xorriso isoinfo iso-info udfinfo 7z bsdtar truncate; do
	command -v "$t" >/dev/null ||
		skip "$t is not installed (Debian: xorriso genisoimage libcdio-utils udftools p7zip-full libarchive-tools)"
done

MiB=$((1024 * 1024))
STORE=$WORK/store
init_store "$STORE"

# ------------------------------------------------------------------ helper
cat >"$WORK/isocheck.py" <<'EOF'
"""Listing and extraction checks for iso_tools.sh."""
import hashlib, os, re, stat, sys

def tree(root):
    """{relative path: ('f', sha) | ('d', None) | ('l', target)}"""
    out = {}
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            p = os.path.join(dp, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ('l', os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ('d', None)
            else:
                h = hashlib.sha256()
                with open(p, 'rb') as f:
                    for b in iter(lambda: f.read(1 << 20), b''):
                        h.update(b)
                out[rel] = ('f', h.hexdigest())
    return out

def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

def udf_name(path):
    """UDF 1.02 names are UCS-2: characters beyond the BMP become '_'."""
    return ''.join('_' if ord(c) > 0xFFFF else c for c in path)

def cmd_same(src, dst, what, mode=''):
    a, b = tree(src), tree(dst)
    if mode in ('udf', 'shas'):
        a = {udf_name(k): v for k, v in a.items() if v[0] != 'l'}
    if mode == 'shas':
        # names may be Joliet's: compare the files' contents as a multiset
        sa = sorted(v[1] for v in a.values() if v[0] == 'f')
        sb = sorted(v[1] for v in b.values() if v[0] == 'f')
        if sa != sb or len(a) != len(b):
            die(f'{what}: {len(b)} entries, {len(sb)} files extracted; the tree has {len(a)}, {len(sa)}; '
                f'or some SHA-256 differs')
        print(f'  ... {what}: {len(a)} entries, every file\'s SHA-256 found')
        return
    missing = sorted(set(a) - set(b))[:10]
    extra = sorted(set(b) - set(a))[:10]
    bad = sorted(k for k in set(a) & set(b) if a[k] != b[k])[:10]
    if missing or extra or bad:
        die(f'{what}: extracted tree differs from the source: missing {missing}, '
            f'extra {extra}, different {bad}')
    print(f'  ... {what}: {len(a)} entries, every file\'s SHA-256 equal')

def listing(path):
    """paths from `isoinfo -f` output, without ';1' and duplicates."""
    names = set()
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        for line in f:
            line = line.rstrip('\n')
            if len(line) >= 2 and line[0] == "'" and line[-1] == "'":
                line = line[1:-1]  # xorriso -find quotes its paths
            line = re.sub(r';1$', '', line.lstrip('/'))
            if line:
                names.add(line)
    return names

JOLIET_BAD = set('*/:;?\\')

def joliet_expect(name):
    """None when Joliet must keep the name as it is."""
    if len(name) > 64 or any(ord(c) > 0xFFFF or ord(c) < 0x20 or c in JOLIET_BAD for c in name):
        return None
    return name

def cmd_listing(src, lst, kind):
    t = tree(src)
    got = listing(lst)
    if kind == 'rr':
        want = set(t)
        if got != want:
            die(f'Rock Ridge listing differs: missing {sorted(want - got)[:10]}, extra {sorted(got - want)[:10]}')
    elif kind in ('joliet', 'joliet-count'):
        want = {k for k, v in t.items() if v[0] != 'l'}
        if len(got) != len(want):
            die(f'Joliet listing has {len(got)} entries, the tree {len(want)} (without symlinks)')
        for k in want if kind == 'joliet' else ():
            parts = k.split('/')
            if all(joliet_expect(p) for p in parts) and k not in got:
                die(f'Joliet listing lacks {k!r} (a name Joliet can hold as it is)')
        for k in got:
            if any(len(p) > 64 for p in k.split('/')):
                die(f'Joliet name longer than 64 characters: {k!r}')
    elif kind == 'iso':
        want = set(t)
        if len(got) != len(want):
            die(f'ISO 9660 listing has {len(got)} entries, the tree {len(want)}')
        for k in got:
            for p in k.split('/'):
                if not re.fullmatch(r'[A-Z0-9_]{1,31}|[A-Z0-9_]*\.[A-Z0-9_]*', p) or len(p) > 31:
                    die(f'ISO 9660 name is not level 2 d-characters: {p!r} in {k!r}')
    print(f'  ... {kind} listing: {len(got)} entries match the tree')

def cmd_counts(src):
    t = tree(src)
    files = sum(1 for v in t.values() if v[0] != 'd')
    dirs = sum(1 for v in t.values() if v[0] == 'd') + 1
    udf_files = sum(1 for v in t.values() if v[0] == 'f')
    print(files, dirs, udf_files)

if __name__ == '__main__':
    c = sys.argv[1]
    if c == 'same':
        cmd_same(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else '')
    elif c == 'listing':
        cmd_listing(sys.argv[2], sys.argv[3], sys.argv[4])
    elif c == 'counts':
        cmd_counts(sys.argv[2])
EOF
isocheck() { python3 "$WORK/isocheck.py" "$@"; }

# mkiso ARGS...: tsmedia mkiso, must succeed.
mkiso() {
	tsm "$STORE" mkiso "$@" 2>"$WORK/.mkiso.err" >"$WORK/.mkiso.out" || {
		cat "$WORK/.mkiso.err" >&2
		fail "tsmedia mkiso $* failed"
	}
}

# judge IMG SRC NAME [--no-extract]: every outside tool on IMG against SRC.
judge() {
	local img=$1 src=$2 name=$3 x=$WORK/x-$3 files dirs udf_files out
	check "$name: xorriso reads the image without complaint"
	xorriso -indev "$img" -report_el_torito plain -report_system_area plain \
		-find / -exec lsdl -- >"$WORK/xorriso.$name" 2>&1 || fail "xorriso failed on $img: $(tail -5 "$WORK/xorriso.$name")"
	if grep -E 'SORRY|FAILURE|FATAL|ABORT|MISHAP|WARNING' "$WORK/xorriso.$name"; then
		fail "xorriso complained about $img"
	fi
	grep -q "Rock Ridge\|RockRidge\|rockridge\|lsdl" "$WORK/xorriso.$name" || true

	check "$name: isoinfo -d sees ISO 9660, Joliet level 3 and Rock Ridge"
	isoinfo -d -i "$img" >"$WORK/isoinfo-d.$name"
	grep -q "Joliet with UCS level 3 found" "$WORK/isoinfo-d.$name" || fail "isoinfo -d: no Joliet: $(cat "$WORK/isoinfo-d.$name")"
	grep -q "Rock Ridge signatures version 1 found" "$WORK/isoinfo-d.$name" || fail "isoinfo -d: no Rock Ridge"

	check "$name: isoinfo listings (ISO 9660, Joliet, Rock Ridge) match the tree"
	isoinfo -f -i "$img" >"$WORK/l-iso.$name"
	isoinfo -J -f -i "$img" >"$WORK/l-jol.$name"
	isoinfo -R -f -i "$img" >"$WORK/l-rr.$name"
	isocheck listing "$src" "$WORK/l-iso.$name" iso
	# isoinfo prints Joliet names in a single-byte charset only: it judges
	# the count; xorriso (preferring Joliet with -read_fs norock) the names.
	isocheck listing "$src" "$WORK/l-jol.$name" joliet-count
	xorriso -read_fs norock -indev "$img" -find / >"$WORK/l-jolx.$name" 2>/dev/null ||
		fail "xorriso -read_fs norock failed"
	isocheck listing "$src" "$WORK/l-jolx.$name" joliet
	isocheck listing "$src" "$WORK/l-rr.$name" rr
	isoinfo -l -i "$img" >/dev/null || fail "isoinfo -l failed"
	isoinfo -R -l -i "$img" >"$WORK/l-rrl.$name" || fail "isoinfo -R -l failed"

	check "$name: iso-info (libcdio) reads it"
	iso-info --no-header -i "$img" -f >"$WORK/l-cdio.$name" 2>&1 || fail "iso-info failed: $(tail -3 "$WORK/l-cdio.$name")"
	read -r files dirs udf_files < <(isocheck counts "$src")
	out=$(grep -c . "$WORK/l-cdio.$name" || true)
	assert_ge "$out" $((files + dirs - 1)) "iso-info -f entries"

	# UDF leaves symlinks out (7-Zip refuses a UDF tree holding one).
	check "$name: udfinfo sees a closed UDF 1.02 volume with the tree's files and directories"
	udfinfo "$img" >"$WORK/udfinfo.$name" 2>&1 || fail "udfinfo failed: $(cat "$WORK/udfinfo.$name")"
	grep -qx "udfrev=1.02" "$WORK/udfinfo.$name" || fail "udfinfo: not UDF 1.02"
	grep -qx "integrity=closed" "$WORK/udfinfo.$name" || fail "udfinfo: integrity not closed"
	assert_eq "$(sed -n 's/^numfiles=//p' "$WORK/udfinfo.$name")" "$udf_files" "udfinfo numfiles"
	assert_eq "$(sed -n 's/^numdirs=//p' "$WORK/udfinfo.$name")" "$dirs" "udfinfo numdirs"

	[[ ${4:-} == --no-extract ]] && return 0
	check "$name: 7z -tudf (UDF) extracts every file with its SHA-256"
	7z l -slt -tudf "$img" >"$WORK/7zl.$name" 2>&1 || fail "7z -tudf cannot list $img: $(tail -5 "$WORK/7zl.$name")"
	grep -q "^Type = Udf" "$WORK/7zl.$name" || fail "7z did not open $img as UDF"
	rm -rf "$x"
	7z x -tudf -y -o"$x" "$img" >"$WORK/7z.$name" 2>&1 || fail "7z x -tudf failed: $(tail -5 "$WORK/7z.$name")"
	isocheck same "$src" "$x" "7z/UDF" udf
	rm -rf "$x"
	# Without -t, 7z picks a handler itself (UDF for most of our images;
	# p7zip 16.02 took ISO 9660 + Joliet for this test's first tree).
	check "$name: 7z with its own choice of handler extracts every file"
	7z x -y -o"$x" "$img" >"$WORK/7z.$name" 2>&1 || fail "7z x failed: $(tail -5 "$WORK/7z.$name")"
	note "7z chose: $(7z l -slt "$img" | sed -n 's/^Type = //p' | head -1)"
	isocheck same "$src" "$x" "7z" shas
	rm -rf "$x"
	check "$name: bsdtar (ISO 9660 + Rock Ridge) extracts every file, symlinks too"
	mkdir -p "$x"
	bsdtar -xf "$img" -C "$x" || fail "bsdtar -xf failed"
	isocheck same "$src" "$x" "bsdtar/Rock Ridge"
	rm -rf "$x"
	check "$name: xorriso -osirrox extracts every file"
	xorriso -osirrox on -indev "$img" -extract / "$x" >"$WORK/osirrox.$name" 2>&1 ||
		fail "xorriso -extract failed: $(tail -5 "$WORK/osirrox.$name")"
	isocheck same "$src" "$x" "xorriso/Rock Ridge"
	rm -rf "$x"
}

# ------------------------------------------------------------------ 1: names and shapes
SRC=$WORK/src
mkdir -p "$SRC/emptydir" "$SRC/a/b/c/d/e/f/g/h/i/j" "$SRC/문서" "$SRC/case"
: >"$SRC/empty.txt"
: >"$SRC/emptydir/.hidden-empty"
echo deep >"$SRC/a/b/c/d/e/f/g/h/i/j/deep.txt"
long=$(printf 'L%.0s' $(seq 1 195))
echo long >"$SRC/$long.data"
mkdir "$SRC/${long}dir"
echo longdir >"$SRC/${long}dir/x"
echo 한국어 >"$SRC/문서/한국어 파일 이름.txt"
echo hangul >"$SRC/문서/보고서.docx"
echo 1 >"$SRC/case/Readme.txt"
echo 2 >"$SRC/case/README.TXT"
echo 3 >"$SRC/case/readme.txt"
echo 4 >"$SRC/case/README_1.TXT"
echo 5 >"$SRC/case/sub.dir.name"
mkdir "$SRC/case/dir" "$SRC/case/DIR"
echo emoji >"$SRC/case/smile-😀.txt"
echo odd >"$SRC/case/a:b*c?.txt"
randfile "$SRC/a/random1.bin" $((3 * MiB + 17))
randfile "$SRC/a/b/random2.bin" $((1 * MiB))
randfile "$SRC/a/b/c/2048.bin" 2048
ln -s ../empty.txt "$SRC/a/link-rel"
ln -s "$long.data" "$SRC/link-long"

check "mkiso of a directory imports it and prints the content ID"
mkiso -o "$WORK/one.iso" -V "TSM Test" --publisher "tsmedia tests" "$SRC"
ID=$(grep -E "$ID_RE" "$WORK/.mkiso.err" | head -1)
assert_match "$ID" "$ID_RE" "content ID on stderr"
judge "$WORK/one.iso" "$SRC" names

check "building again from the content ID gives the same bytes"
mkiso -o "$WORK/two.iso" -V "TSM Test" --publisher "tsmedia tests" "$ID"
cmp "$WORK/one.iso" "$WORK/two.iso" || fail "two builds of the same content differ"
check "-o - writes the same bytes to standard output"
tsm "$STORE" mkiso -o - -V "TSM Test" --publisher "tsmedia tests" "$ID" 2>/dev/null | cmp - "$WORK/one.iso" ||
	fail "mkiso -o - differs from -o FILE"
check "the volume label reaches ISO 9660 (upper-cased), Joliet and UDF"
grep -q "Volume id: TSM_TEST" "$WORK/isoinfo-d.names" || fail "ISO volume id: $(grep 'Volume id' "$WORK/isoinfo-d.names")"
jvol=$(python3 -c '
import sys
with open(sys.argv[1], "rb") as f:
    for s in range(16, 32):
        f.seek(s * 2048)
        d = f.read(2048)
        if d[0] == 2 and d[1:6] == b"CD001" and d[88:91] == b"%/E":
            print(d[40:72].decode("utf-16-be").rstrip())
            break
' "$WORK/one.iso")
assert_eq "$jvol" "TSM Test" "Joliet volume id"
grep -qx "label=TSM Test" "$WORK/udfinfo.names" || fail "UDF label"
check "Rock Ridge keeps the symlinks"
grep -q "link-rel -> ../empty.txt" "$WORK/l-rrl.names" || fail "isoinfo -R -l shows no symlink"
rm -f "$WORK/two.iso"

check "--no-joliet --no-rock-ridge --no-udf: plain ISO 9660 still extracts (7z)"
mkiso -o "$WORK/plain.iso" --no-joliet --no-rock-ridge --no-udf "$ID"
isoinfo -d -i "$WORK/plain.iso" >"$WORK/plain.d"
grep -q "NO Joliet present" "$WORK/plain.d" || fail "Joliet present with --no-joliet"
grep -q "NO Rock Ridge present" "$WORK/plain.d" || fail "Rock Ridge present with --no-rock-ridge"
udfinfo "$WORK/plain.iso" >/dev/null 2>&1 && fail "UDF present with --no-udf"
7z x -y -o"$WORK/x-plain" "$WORK/plain.iso" >/dev/null || fail "7z x of the plain image failed"
assert_eq "$(sha "$WORK/x-plain/A/RANDOM1.BIN")" "$(sha "$SRC/a/random1.bin")" "plain ISO file data"
rm -rf "$WORK/x-plain" "$WORK/plain.iso" "$WORK/one.iso"

# ------------------------------------------------------------------ 2: 10,000 small files
check "10,000 small files"
MANY=$WORK/many
python3 - "$MANY" <<'EOF'
import os, sys
root = sys.argv[1]
for i in range(10000):
    d = os.path.join(root, 'big' if i < 5000 else f'd{i % 50:02d}')
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f'file-{i:05d}-with-a-longer-name.txt'), 'wb') as f:
        f.write((f'{i} ' * (i % 97 + 1)).encode())
EOF
mkiso -o "$WORK/many.iso" "$MANY"
judge "$WORK/many.iso" "$MANY" many
LAYOUT=$(tsm "$STORE" mkiso --layout-only "$(grep -E "$ID_RE" "$WORK/.mkiso.err" | head -1)")
note "$LAYOUT"
rm -rf "$WORK/many.iso"

# ------------------------------------------------------------------ 3: a 4.5 GiB file
check "a 4.5 GiB file: ISO 9660 multi-extent, UDF allocation descriptors < 1 GiB"
BIG=$WORK/bigsrc
mkdir -p "$BIG/dir"
truncate -s 4608M "$BIG/dir/huge.img"
echo small >"$BIG/small.txt"
want=$(sha "$BIG/dir/huge.img")
mkiso -o "$WORK/big.iso" "$BIG"
judge "$WORK/big.iso" "$BIG" big --no-extract
isoinfo -l -i "$WORK/big.iso" | grep -c "HUGE.IMG;1" >"$WORK/nrec"
assert_eq "$(cat "$WORK/nrec")" 2 "ISO 9660 directory records (sections) of the 4.5 GiB file"
check "7z reads the large file through UDF"
assert_eq "$(7z x -tudf -so "$WORK/big.iso" dir/huge.img 2>/dev/null | sha256sum | cut -d' ' -f1)" "$want" "7z/UDF SHA-256 of the 4.5 GiB file"
check "bsdtar reads it through ISO 9660 multi-extent + Rock Ridge"
assert_eq "$(bsdtar -xOf "$WORK/big.iso" dir/huge.img | sha256sum | cut -d' ' -f1)" "$want" "bsdtar SHA-256 of the 4.5 GiB file"
check "xorriso reads it as one 4.5 GiB file"
xorriso -indev "$WORK/big.iso" -find /dir/huge.img -exec lsdl -- 2>/dev/null | grep -q " 4831838208 " ||
	fail "xorriso does not see a 4831838208-byte /dir/huge.img"
rm -f "$WORK/big.iso"

pass
