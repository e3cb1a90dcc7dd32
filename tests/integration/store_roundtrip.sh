#!/usr/bin/env bash
# Import awkward trees into a store and read every byte back.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

umask 022 # the store must set its own modes, whatever the umask

# ------------------------------------------------------------------ source tree
SRC=$WORK/src
mkdir -p "$SRC"
check "building a source tree: empty files and dirs, deep paths, long and Korean names, random sizes"
: >"$SRC/empty.txt"
mkdir -p "$SRC/empty_dir" "$SRC/nested_empty/a/b/c"
mkdir -p "$SRC/sub/dir"
printf 'hello tsmedia\n' >"$SRC/sub/dir/file.txt"
: >"$SRC/sub/dir/also-empty"
deep=$SRC
for i in 1 2 3 4 5 6 7 8 9 10; do deep=$deep/level$i; done
mkdir -p "$deep"
randfile "$deep/deep_file.bin" 12345
: >"$deep/deep_empty"
long=$(printf 'n%.0s' $(seq 1 196)).bin # 200 bytes
assert_eq "${#long}" 200 "long name length"
randfile "$SRC/$long" 70001
longdir=$(printf 'd%.0s' $(seq 1 200))
mkdir -p "$SRC/$longdir"
randfile "$SRC/$longdir/$long" 3000
mkdir -p "$SRC/한국어_폴더/하위"
printf '안녕하세요, 세계\n' >"$SRC/한국어_파일.txt"
randfile "$SRC/한국어_폴더/하위/데이터.bin" 654321
: >"$SRC/한국어_폴더/빈_파일"
printf 'spaces\n' >"$SRC/sub/name with spaces & (parens).txt"
printf 'x\n' >"$SRC/sub/-leading-dash"
printf '#!/bin/sh\necho hi\n' >"$SRC/sub/run.sh"
chmod 0755 "$SRC/sub/run.sh"
chmod 0600 "$SRC/sub/dir/file.txt"
touch -d '2001-02-03 04:05:06 UTC' "$SRC/sub/dir/file.txt"
mtime_epoch=$(stat -c %Y "$SRC/sub/dir/file.txt")
ln -s dir/file.txt "$SRC/sub/link-inside"
mkdir -p "$SRC/random"
sizes=(1 2 4095 4096 4097 16383 16384 65535 65536 65537 262143 262144 262145 1000000 3145728 4194304 5242881)
for s in "${sizes[@]}"; do randfile "$SRC/random/size_$s.bin" "$s"; done
for i in $(seq 1 12); do randfile "$SRC/random/r$i.bin" $((RANDOM * RANDOM % 4000000)); done
# Identical files inside one tree (dedup within an import must still read back).
cp "$SRC/random/size_1000000.bin" "$SRC/random/copy_of_1000000.bin"
# A file of zeros (highly compressible, repeated chunks).
head -c 3000000 /dev/zero >"$SRC/random/zeros.bin"
read -r nfiles nbytes < <(manifest "$SRC" "$WORK/src.json")
note "$nfiles files, $nbytes bytes"

# ------------------------------------------------------------------ init
STORE=$WORK/store
check "init creates catalog.db, packs/, lock, pins/"
init_store "$STORE"
[[ -d $STORE/packs ]] || fail "init did not create $STORE/packs"
[[ -d $STORE/pins ]] || fail "init did not create $STORE/pins"
[[ -e $STORE/lock ]] || fail "init did not create $STORE/lock"
# SQLite header bytes 18/19 (write/read format version) are 2 in WAL mode.
jm=$(od -An -tu1 -j18 -N2 "$STORE/catalog.db" | tr -s ' ' | sed 's/^ //')
assert_eq "$jm" "2 2" "catalog.db header bytes 18-19 (2 2 = WAL mode)"

# ------------------------------------------------------------------ import
check "content add of the tree prints a content ID alone on a line"
ID1=$(add_content "$STORE" --kind package --name "Roundtrip tree" --version 1.2.3 "$SRC")
assert_match "$ID1" "$ID_RE" "content ID"
note "ID $ID1"

check "store dir is 0700 and every file/dir in it 0600/0700 (umask was 022)"
perm=$(stat -c %a "$STORE")
assert_eq "$perm" 700 "mode of $STORE"
bad=$(find "$STORE" -mindepth 1 \( -type d ! -perm 0700 -o -type f ! -perm 0600 \) -printf '%m %p\n')
[[ -z $bad ]] || fail "store entries with wrong modes (want dirs 0700, files 0600):
$bad"
npacks=$(find "$STORE/packs" -name 'pack-*.pack' | wc -l)
assert_ge "$npacks" 1 "number of pack files named pack-NNNNNNNN.pack"
find "$STORE/packs" -name 'pack-*.pack' -printf '%f\n' | grep -Eqv '^pack-[0-9]{8}\.pack$' &&
	fail "pack file not named pack-NNNNNNNN.pack: $(ls "$STORE/packs")"

check "content show --json lists every file, empty dir and symlink with size, sha256, mode, mtime"
show_json "$STORE" "$ID1" "$WORK/show1.json"
"${PYHELP[@]}" check-show "$WORK/show1.json" "$WORK/src.json" --check-mode \
	--mtime "sub/dir/file.txt=$mtime_epoch" || fail "content show $ID1 --json does not match the source"
for d in empty_dir nested_empty/a/b/c "$deep"; do
	rel=${d#"$SRC"/}
	python3 - "$WORK/show1.json" "$rel" <<'EOF' || fail "empty/deep dir '$rel' not listed as type dir"
import json, sys
doc = json.load(open(sys.argv[1], encoding='utf-8'))
want = sys.argv[2]
sys.exit(0 if any(f['path'].strip('/').removeprefix('./') == want and f['type'] == 'dir' for f in doc['files']) else 1)
EOF
done
assert_eq "$("${PYHELP[@]}" get "$WORK/show1.json" id)" "$ID1" "show id"
assert_eq "$("${PYHELP[@]}" get "$WORK/show1.json" kind)" package "show kind"
assert_eq "$("${PYHELP[@]}" get "$WORK/show1.json" name)" "Roundtrip tree" "show name"

check "--version label shows up in versions[0]"
nver=$("${PYHELP[@]}" get "$WORK/show1.json" versions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
assert_eq "$nver" 1 "number of versions after the first add"
for k in version label files bytes created; do
	"${PYHELP[@]}" get "$WORK/show1.json" "versions.0.$k" >/dev/null || fail "versions[0] lacks key $k"
done
assert_eq "$("${PYHELP[@]}" get "$WORK/show1.json" versions.0.label)" 1.2.3 "versions[0].label"
nsyml=$(find "$SRC" -type l | wc -l)
vfiles=$("${PYHELP[@]}" get "$WORK/show1.json" versions.0.files)
[[ $vfiles == "$nfiles" || $vfiles == $((nfiles + nsyml)) ]] ||
	fail "versions[0].files is $vfiles, expected $nfiles regular files (or $((nfiles + nsyml)) with symlinks)"
assert_eq "$("${PYHELP[@]}" get "$WORK/show1.json" versions.0.bytes)" "$nbytes" "versions[0].bytes"

check "content cat of every file gives the same SHA-256 ($nfiles files)"
cat_check "$STORE" "$ID1" "$WORK/src.json"
# And once through the shell, literally, for the Korean and long names.
got=$(tsm "$STORE" content cat "$ID1" "한국어_폴더/하위/데이터.bin" | sha256sum | cut -d' ' -f1)
assert_eq "$got" "$(sha "$SRC/한국어_폴더/하위/데이터.bin")" "cat of Korean path"
got=$(tsm "$STORE" content cat "$ID1" "$longdir/$long" | sha256sum | cut -d' ' -f1)
assert_eq "$got" "$(sha "$SRC/$longdir/$long")" "cat of 200-byte names"
got=$(tsm "$STORE" content cat "$ID1" "${deep#"$SRC"/}/deep_file.bin" | sha256sum | cut -d' ' -f1)
assert_eq "$got" "$(sha "$deep/deep_file.bin")" "cat of 10-level deep path"
got=$(tsm "$STORE" content cat "$ID1" empty.txt | wc -c)
assert_eq "$got" 0 "cat of empty file"

check "content cat of a path that is not in the content fails and names it"
expect_fail_with 'no_such_file_here' -- tsm "$STORE" content cat "$ID1" sub/no_such_file_here
[[ -s $LAST_STDOUT ]] && fail "cat of a missing path wrote to stdout"
check "content cat refuses a directory and paths that climb out of the content"
expect_fail_with 'sub/dir' -- tsm "$STORE" content cat "$ID1" sub/dir
expect_fail_with 'passwd' -- tsm "$STORE" content cat "$ID1" ../../../../../../etc/passwd
[[ -s $LAST_STDOUT ]] && fail "cat of ../../etc/passwd wrote to stdout"
expect_fail_with 'passwd' -- tsm "$STORE" content cat "$ID1" /etc/passwd
[[ -s $LAST_STDOUT ]] && fail "cat of /etc/passwd wrote to stdout"
expect_fail_with 'ZZZ00001' -- tsm "$STORE" content cat ZZZ00001 sub/dir/file.txt

check "content list --json lists the item"
json_ids "$STORE" | grep -qx "$ID1" || fail "content list --json does not list $ID1"

check "stats --json has the documented keys and counts the item"
tsm "$STORE" stats --json >"$WORK/stats.json"
for k in logical_bytes stored_bytes pack_bytes chunks blobs dedup_ratio content_items; do
	"${PYHELP[@]}" get "$WORK/stats.json" "$k" >/dev/null || fail "stats --json lacks $k"
done
assert_eq "$("${PYHELP[@]}" get "$WORK/stats.json" content_items)" 1 "stats content_items"
assert_eq "$("${PYHELP[@]}" get "$WORK/stats.json" logical_bytes)" "$nbytes" "stats logical_bytes"
assert_eq "$("${PYHELP[@]}" get "$WORK/stats.json" pack_bytes)" "$(pack_bytes "$STORE")" \
	"stats pack_bytes vs the size of packs/*.pack"
# distinct file contents = blobs
nblobs=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(len({e["sha256"] for e in m.values() if e["type"]=="file"}))' "$WORK/src.json")
gotblobs=$("${PYHELP[@]}" get "$WORK/stats.json" blobs)
# The empty file's content may or may not be kept as a blob.
[[ $gotblobs == "$nblobs" || $gotblobs == $((nblobs - 1)) ]] ||
	fail "stats blobs is $gotblobs, expected $nblobs distinct file contents (or $((nblobs - 1)) without the empty one)"

# ------------------------------------------------------------------ single file
check "a single-file source is stored under its basename"
ONE=$WORK/one
mkdir -p "$ONE"
randfile "$ONE/boot.wim" 2500000
ID2=$(add_content "$STORE" --kind boot-image --name "Single file" "$ONE/boot.wim")
assert_ne "$ID2" "$ID1" "second add got the same ID"
show_json "$STORE" "$ID2" "$WORK/show2.json"
manifest "$ONE/boot.wim" "$WORK/one.json" >/dev/null
"${PYHELP[@]}" check-show "$WORK/show2.json" "$WORK/one.json" || fail "show of a single-file import"
cat_check "$STORE" "$ID2" "$WORK/one.json"
assert_eq "$("${PYHELP[@]}" get "$WORK/show2.json" kind)" boot-image "kind of single-file item"

check "-q: content add prints only the ID on stdout and nothing on stderr"
out=$(tsm "$STORE" -q content add --kind package --name quiet "$ONE/boot.wim" 2>"$WORK/q.err")
assert_match "$out" "$ID_RE" "stdout of -q content add"
[[ -s $WORK/q.err ]] && fail "-q content add wrote to stderr: $(head -c 300 "$WORK/q.err")"

check "every --kind is accepted"
for kind in boot-image os-image package application driver-package prestart; do
	id=$(add_content "$STORE" --kind "$kind" --name "kind $kind" "$SRC/sub/dir/file.txt")
	show_json "$STORE" "$id" "$WORK/k.json"
	assert_eq "$("${PYHELP[@]}" get "$WORK/k.json" kind)" "$kind" "kind of $id"
done

# ------------------------------------------------------------------ --id new version
check "--id on an existing ID adds version 2; cat returns the new bytes"
SRC2=$WORK/src2
mkdir -p "$SRC2/sub/dir"
printf 'version two\n' >"$SRC2/sub/dir/file.txt"
randfile "$SRC2/new.bin" 300000
cp "$SRC/random/size_3145728.bin" "$SRC2/kept.bin"
manifest "$SRC2" "$WORK/src2.json" >/dev/null
IDV=$(add_content "$STORE" --kind package --name "Roundtrip tree" --version 2.0 --id "$ID1" "$SRC2")
assert_eq "$IDV" "$ID1" "ID printed by add --id"
show_json "$STORE" "$ID1" "$WORK/show1b.json"
nver=$("${PYHELP[@]}" get "$WORK/show1b.json" versions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
assert_eq "$nver" 2 "number of versions after add --id"
labels=$("${PYHELP[@]}" get "$WORK/show1b.json" versions | python3 -c 'import json,sys; print(" ".join(sorted(str(v["label"]) for v in json.load(sys.stdin))))')
assert_eq "$labels" "1.2.3 2.0" "labels of the two versions"
"${PYHELP[@]}" check-show "$WORK/show1b.json" "$WORK/src2.json" || fail "show after add --id must list the newest version's files"
cat_check "$STORE" "$ID1" "$WORK/src2.json"
got=$(tsm "$STORE" content cat "$ID1" sub/dir/file.txt)
assert_eq "$got" "version two" "cat after new version"
expect_fail_with 'empty\.txt' -- tsm "$STORE" content cat "$ID1" empty.txt

# ------------------------------------------------------------------ site code
check "init --site-code PS1 gives IDs PS1xxxxx"
STORE2=$WORK/store-ps1
init_store "$STORE2" --site-code PS1
a=$(add_content "$STORE2" --kind application --name A "$SRC/sub")
b=$(add_content "$STORE2" --kind application --name B "$SRC/sub")
assert_match "$a" '^PS1[0-9A-F]{5}$' "ID in a PS1 store"
assert_match "$b" '^PS1[0-9A-F]{5}$' "ID in a PS1 store"
assert_ne "$a" "$b" "two adds got the same ID"
c=$(add_content "$STORE2" --kind driver-package --name C --id PS1000AB "$SRC/sub")
assert_eq "$c" PS1000AB "add --id PS1000AB on a new ID"
show_json "$STORE2" PS1000AB "$WORK/c.json"
assert_eq "$("${PYHELP[@]}" get "$WORK/c.json" name)" C "name of PS1000AB"
ids=$(json_ids "$STORE2" | tr '\n' ' ')
assert_eq "$ids" "$(printf '%s\n' "$a" "$b" PS1000AB | sort | tr '\n' ' ')" "content list of the PS1 store"
verify_ok "$STORE2"

check "verify passes on the store"
verify_ok "$STORE"

pass
