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

check "the packs are byte for byte the same, the catalog rows the same, in the same order"
same_stores "$WORK/one" "$WORK/many" "one thread and four"

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
