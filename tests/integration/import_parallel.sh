#!/usr/bin/env bash
# The parallel import (small files hashed and compressed many at once on
# the workers, large files buffer by buffer) writes what the import on one
# thread writes (TSMEDIA_THREADS=1): the same tree imported both ways gives
# byte-identical packs and the same catalog rows (chunks, their packs and
# offsets, blobs, chunk lists, tree entries, in the same row order).  The
# tree mixes what the two paths split on: small files (one and several
# chunks, empty, duplicates, compressible and not), large files, files
# just under and over the small-file limit, directories and symlinks
# between them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TREE=$WORK/tree
mkdir -p "$TREE/a/b" "$TREE/c" "$TREE/d"
rand() { { openssl enc -aes-128-ctr -pbkdf2 -iter 1 -nosalt -pass "pass:$1" </dev/zero 2>/dev/null || true; } | head -c "$2"; }
python3 - "$TREE" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(19)
for i in range(600):
    d = os.path.join(root, ["a", "a/b", "c", "d"][i % 4])
    size = rnd.choice([0, 1, 100, 4096, 20000, 70000, 130000, 300000])
    if i % 3 == 0:
        data = (b"compressible %d " % i) * (size // 16 + 1)
    else:
        data = rnd.randbytes(size)
    with open(os.path.join(d, "f%04d.bin" % i), "wb") as f:
        f.write(data[:size])
    if i % 50 == 0:
        os.symlink("f%04d.bin" % i, os.path.join(d, "l%04d" % i))
    if i % 97 == 0:
        os.makedirs(os.path.join(d, "sub%d" % i), exist_ok=True)
PY
rand big1 $((12 * 1024 * 1024)) >"$TREE/a/big1.img"
rand big2 $((3 * 1024 * 1024 + 17)) >"$TREE/c/big2.img"
cp "$TREE/a/b/f0001.bin" "$TREE/d/dup-of-f0001.bin"
# Around the small-file limit (1 MiB): under, at, just over.
rand edge $((1024 * 1024 - 1)) >"$TREE/c/edge-under.bin"
rand edge $((1024 * 1024)) >"$TREE/c/edge-at.bin"
rand edge $((1024 * 1024 + 1)) >"$TREE/c/edge-over.bin"
python3 -c 'import sys; sys.stdout.write("text line\n" * 200000)' >"$TREE/d/text.log"
touch -d '2020-01-02 03:04:05' "$TREE/d/text.log"
nfiles=$(find "$TREE" -type f | wc -l)

# Both stores at the same path in turn (the catalog records the source).
import_with() { # import_with THREADS OUT
	local store=$WORK/store
	rm -rf "$store"
	tsm "$store" init --site-code PAR --compression zstd >/dev/null
	TSMEDIA_THREADS=$1 tsm "$store" -q content add --kind package --name tree --id PAR00001 "$TREE" >/dev/null
	mv "$store" "$2"
}

check "a tree of $nfiles files imported on one thread and on the workers"
import_with 1 "$WORK/one"
import_with 4 "$WORK/many"

check "the packs are byte for byte the same"
(cd "$WORK/one/packs" && ls) >"$WORK/packs-one"
(cd "$WORK/many/packs" && ls) >"$WORK/packs-many"
cmp -s "$WORK/packs-one" "$WORK/packs-many" || fail "different pack files: $(diff "$WORK/packs-one" "$WORK/packs-many" | head -5)"
[[ -s $WORK/packs-one ]] || fail "no packs written"
while read -r p; do
	cmp "$WORK/one/packs/$p" "$WORK/many/packs/$p" || fail "pack $p differs"
done <"$WORK/packs-one"
note "$(wc -l <"$WORK/packs-one") pack(s), $(pack_bytes "$WORK/one") bytes, identical"

check "the catalog rows are the same, in the same order"
# Every column but the clock's (created).
dump() {
	python3 - "$1/catalog.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for q in ["SELECT id, hex(hash), pack, offset, stored_size, size, codec FROM chunks ORDER BY id",
          "SELECT id, hex(sha256), hex(sha1), size FROM blobs ORDER BY id",
          "SELECT blob, seq, chunk FROM blob_chunks ORDER BY blob, seq",
          "SELECT id FROM packs ORDER BY id",
          "SELECT id, kind, name, removed FROM content ORDER BY id",
          "SELECT id, content, version, label, source, removed, files, bytes FROM content_versions ORDER BY id",
          "SELECT version, path, mode, mtime_ns, attributes, size, blob, link_target FROM tree_entries ORDER BY version, path",
          "SELECT version, key, hex(value) FROM content_meta ORDER BY version, key",
          "SELECT key, value FROM meta ORDER BY key"]:
    print("--", q)
    for row in db.execute(q):
        print(row)
PY
}
dump "$WORK/one" >"$WORK/rows-one"
dump "$WORK/many" >"$WORK/rows-many"
diff "$WORK/rows-one" "$WORK/rows-many" >"$WORK/rows.diff" || fail "catalog rows differ: $(head -20 "$WORK/rows.diff")"
nchunks=$(grep -c "^(" "$WORK/rows-one")
assert_ge "$nchunks" 700 "rows compared"
note "$nchunks rows, identical"

check "both read back to the source"
mkdir -p "$WORK/out"
for f in a/big1.img c/edge-at.bin a/b/f0001.bin d/dup-of-f0001.bin d/text.log; do
	tsm "$WORK/many" content cat PAR00001 "$f" >"$WORK/out/x"
	assert_eq "$(sha "$WORK/out/x")" "$(sha "$TREE/$f")" "$f read back"
done

check "TSMEDIA_THREADS that is not a number is refused with a warning"
tsm "$WORK/many" stats >/dev/null
TSMEDIA_THREADS=lots tsm "$WORK/many" content add --kind package --name again "$TREE/c" >/dev/null 2>"$WORK/warn" || fail "import with a bad TSMEDIA_THREADS failed"
grep -q "TSMEDIA_THREADS='lots' is not a number of threads" "$WORK/warn" || fail "no warning for TSMEDIA_THREADS=lots: $(cat "$WORK/warn")"

pass
