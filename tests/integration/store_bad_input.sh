#!/usr/bin/env bash
# Bad input: every case exits non-zero with a message naming the offending
# path or value, and leaves the catalog and the packs exactly as they were.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KiB=1024
MiB=$((1024 * 1024))

STORE=$WORK/store
init_store "$STORE"
GOOD=$WORK/good
mkdir -p "$GOOD/d"
randfile "$GOOD/d/one.bin" 300000
printf 'good\n' >"$GOOD/two.txt"
manifest "$GOOD" "$WORK/good.json" >/dev/null
ID_GOOD=$(add_content "$STORE" --kind package --name good "$GOOD")

# bad_case STORE DESCRIPTION REGEX -- CMD...: CMD fails, stderr matches REGEX,
# the catalog dump and the bytes under packs/ are unchanged.
bad_case() {
	local store=$1 desc=$2 re=$3 d0 p0 f0
	shift 3
	check "$desc"
	d0=$(catalog_digest "$store")
	p0=$(packs_dir_bytes "$store")
	f0=$(find "$store" -path "$store/catalog.db*" -prune -o -print | sort | sha256sum)
	expect_fail_with "$re" "$@"
	assert_eq "$(catalog_digest "$store")" "$d0" "catalog changed by a failed command ($desc)"
	assert_eq "$(packs_dir_bytes "$store")" "$p0" "bytes under packs/ changed by a failed command ($desc)"
	assert_eq "$(find "$store" -path "$store/catalog.db*" -prune -o -print | sort | sha256sum)" "$f0" \
		"files in the store changed by a failed command ($desc)"
}

# A source with fresh data (a naive importer would append it to a pack before
# finding the bad entry) plus one bad entry; prints its path.
bad_tree() {
	local t=$WORK/bad-$1
	rm -rf "$t"
	mkdir -p "$t/a/b"
	randfile "$t/a/data1.bin" $((2 * MiB))
	randfile "$t/a/b/data2.bin" $((700 * KiB))
	randfile "$t/zzz_last.bin" $((1 * MiB))
	echo "$t"
}

add() { tsm "$STORE" content add "$@"; }

# ------------------------------------------------------------------ sources
missing=$WORK/does-not-exist-91c2
bad_case "$STORE" "missing source" "$(re_escape does-not-exist-91c2)" -- \
	add --kind package --name x "$missing"
bad_case "$STORE" "missing file inside an existing dir" "nope_4410\.bin" -- \
	add --kind package --name x "$GOOD/nope_4410.bin"

t=$(bad_tree fifo)
mkfifo "$t/a/fifo_here_7f3a"
bad_case "$STORE" "a fifo inside the source" "fifo_here_7f3a" -- add --kind package --name x "$t"

t=$(bad_tree sock)
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$t/a/b/sock_here_5e1b"
bad_case "$STORE" "a unix socket inside the source" "sock_here_5e1b" -- add --kind package --name x "$t"

if [[ $(id -u) == 0 ]]; then
	t=$(bad_tree dev)
	mknod "$t/a/dev_here_c0de" c 1 3
	bad_case "$STORE" "a character device inside the source" "dev_here_c0de" -- add --kind package --name x "$t"
fi

check "a fifo given as the source itself"
mkfifo "$WORK/fifo_src_91ab"
bad_case "$STORE" "a fifo as the source" "fifo_src_91ab" -- add --kind package --name x "$WORK/fifo_src_91ab"

printf 'outside secret\n' >"$WORK/outside.txt"
t=$(bad_tree symabs)
ln -s /etc/passwd "$t/a/esc_abs_link"
bad_case "$STORE" "an absolute symlink pointing outside the source" "esc_abs_link" -- add --kind package --name x "$t"

t=$(bad_tree symrel)
ln -s ../../../outside.txt "$t/a/b/esc_rel_link"
[[ -f $t/a/b/esc_rel_link ]] || fail "test bug: relative escaping link does not resolve"
bad_case "$STORE" "a relative symlink climbing out of the source" "esc_rel_link" -- add --kind package --name x "$t"

t=$(bad_tree symdir)
ln -s "$WORK" "$t/esc_dir_link"
bad_case "$STORE" "a symlink to a directory outside the source" "esc_dir_link" -- add --kind package --name x "$t"

# ------------------------------------------------------------------ arguments
bad_case "$STORE" "invalid --kind" "bogus-kind" -- add --kind bogus-kind --name x "$GOOD"
bad_case "$STORE" "missing --kind" "[Kk]ind" -- add --name x "$GOOD"
bad_case "$STORE" "missing --name" "[Nn]ame" -- add --kind package "$GOOD"
for badid in ABC PS1XYZ12 PS10001 PS1000123 PS1G0012 'PS1 0012' '../../x' ''; do
	bad_case "$STORE" "invalid --id '$badid'" "${badid:+$(re_escape "$badid")}" -- \
		add --kind package --name x --id "$badid" "$GOOD"
done
# Lower-case hex is not the documented form: refusing it or storing it
# upper-cased are both fine, keeping a lower-case ID is not.
check "--id with lower-case hex is refused, or normalised to upper case"
LSTORE=$WORK/store-lower
init_store "$LSTORE"
d0=$(catalog_digest "$LSTORE")
rc=0
tsm "$LSTORE" content add --kind package --name x --id ps10001a "$GOOD" >"$WORK/lower.out" 2>"$WORK/lower.err" || rc=$?
((rc == 124 || rc > 128)) && fail "add --id ps10001a: exit $rc"
if ((rc == 0)); then
	assert_eq "$(grep -E "$ID_RE" "$WORK/lower.out" || true)" PS10001A "ID printed for --id ps10001a"
	assert_eq "$(json_ids "$LSTORE")" PS10001A "IDs listed after add --id ps10001a"
	note "accepted and normalised to PS10001A"
else
	grep -Fq ps10001a "$WORK/lower.err" || fail "add --id ps10001a failed without naming the value: $(head -c 400 "$WORK/lower.err")"
	assert_eq "$(catalog_digest "$LSTORE")" "$d0" "catalog after a refused --id ps10001a"
	note "refused: $(head -n 1 "$WORK/lower.err")"
fi

# ------------------------------------------------------------------ not a store
check "directories that are not stores are refused and left untouched"
dir_state() { # names, sizes, mtimes and contents of everything under DIR
	{
		find "$1" -exec stat -c '%n %s %Y %a' {} + 2>/dev/null | sort || true
		find "$1" -type f -exec sha256sum {} + 2>/dev/null | sort || true
	} | sha256sum
}
notstore() { # notstore DIR DESC: every command fails naming DIR; DIR unchanged
	local dir=$1 desc=$2 before cmd
	before=$(dir_state "$dir")
	for cmd in "content add --kind package --name x $GOOD" "content list" "content show $ID_GOOD" "stats" "verify" "gc"; do
		# shellcheck disable=SC2086
		expect_fail_with "$(re_escape "$dir")" -- tsm "$dir" $cmd
		assert_eq "$(dir_state "$dir")" "$before" "$desc changed by '$cmd'"
	done
}
mkdir -p "$WORK/empty_dir_store"
notstore "$WORK/empty_dir_store" "empty dir"
[[ -z $(ls -A "$WORK/empty_dir_store") ]] || fail "files appeared in an empty non-store dir: $(ls -A "$WORK/empty_dir_store")"
notstore "$WORK/no_such_store_dir" "nonexistent dir"
[[ -e $WORK/no_such_store_dir ]] && fail "a command on a nonexistent store created $WORK/no_such_store_dir"
mkdir -p "$WORK/random_catalog"
randfile "$WORK/random_catalog/catalog.db" 8192
notstore "$WORK/random_catalog" "dir with a random catalog.db"
mkdir -p "$WORK/foreign_sqlite"
sqlite3 "$WORK/foreign_sqlite/catalog.db" 'CREATE TABLE t(x); INSERT INTO t VALUES (42);'
notstore "$WORK/foreign_sqlite" "dir with someone else's sqlite catalog.db"
mkdir -p "$WORK/file_store_parent"
printf 'not a dir\n' >"$WORK/file_store_parent/plainfile"
check "a plain file given as the store"
expect_fail_with "$(re_escape "$WORK/file_store_parent/plainfile")" -- tsm "$WORK/file_store_parent/plainfile" content list

check "init on an existing store does not destroy it"
d0=$(catalog_digest "$STORE")
p0=$(packs_dir_bytes "$STORE")
rc=0
tsm "$STORE" init >/dev/null 2>"$WORK/init.err" || rc=$?
((rc == 124 || rc > 128)) && fail "init on an existing store: exit $rc"
note "init on an existing store: exit $rc $(head -c 200 "$WORK/init.err")"
assert_eq "$(catalog_digest "$STORE")" "$d0" "catalog after init on an existing store"
assert_eq "$(packs_dir_bytes "$STORE")" "$p0" "packs after init on an existing store"
cat_check "$STORE" "$ID_GOOD" "$WORK/good.json" >/dev/null

# ------------------------------------------------------------------ unreadable
check "unreadable files and dirs in the source (run as an unprivileged user)"
RUNAS=()
unreadable_ok=1
if [[ $(id -u) == 0 ]]; then
	if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups -- true 2>/dev/null; then
		RUNAS=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
		chmod 0711 "$WORK"
		if ! "${RUNAS[@]}" test -x "$TSMEDIA"; then
			skip_part "unreadable-source cases: $TSMEDIA is not executable by uid 65534"
			unreadable_ok=0
		fi
	else
		skip_part "unreadable-source cases: cannot drop privileges with setpriv (as root every file is readable)"
		unreadable_ok=0
	fi
fi
if ((unreadable_ok)); then
	U=$WORK/unpriv
	mkdir -p "$U"
	NSTORE=$U/store
	t=$U/src
	mkdir -p "$t/a/locked_dir_x" "$t/b"
	randfile "$t/a/data.bin" $((1 * MiB))
	randfile "$t/b/secret_unreadable.bin" 4096
	printf 'x\n' >"$t/a/locked_dir_x/inner.txt"
	randfile "$U/lone_unreadable.bin" 5000
	mkdir -p "$U/locked_root_src"
	printf 'y\n' >"$U/locked_root_src/f.txt"
	[[ ${#RUNAS[@]} -gt 0 ]] && chown -R 65534:65534 "$U"
	(cd / && "${RUNAS[@]}" "$TSMEDIA" --store "$NSTORE" init >/dev/null) || fail "init as an unprivileged user failed"
	(cd / && "${RUNAS[@]}" "$TSMEDIA" --store "$NSTORE" content add --kind package --name ok "$GOOD" >/dev/null) ||
		fail "content add as an unprivileged user failed"
	nadd() { (cd / && "${RUNAS[@]}" timeout 120 "$TSMEDIA" --store "$NSTORE" content add "$@"); }

	chmod 000 "$t/b/secret_unreadable.bin"
	bad_case "$NSTORE" "an unreadable file inside the source" "secret_unreadable\.bin" -- nadd --kind package --name x "$t"
	chmod 644 "$t/b/secret_unreadable.bin"
	chmod 000 "$t/a/locked_dir_x"
	bad_case "$NSTORE" "an unreadable directory inside the source" "locked_dir_x" -- nadd --kind package --name x "$t"
	chmod 755 "$t/a/locked_dir_x"
	chmod 000 "$U/lone_unreadable.bin"
	bad_case "$NSTORE" "an unreadable single-file source" "lone_unreadable\.bin" -- nadd --kind package --name x "$U/lone_unreadable.bin"
	chmod 000 "$U/locked_root_src"
	bad_case "$NSTORE" "an unreadable source directory" "locked_root_src" -- nadd --kind package --name x "$U/locked_root_src"
	chmod 755 "$U/locked_root_src"
fi

# ------------------------------------------------------------------ full disk
check "full disk: 20 MB into a store on a 4 MiB tmpfs fails with 'No space left', catalog unchanged"
MNT=$WORK/tmpfs
mkdir -p "$MNT"
if mount -t tmpfs -o size=4m,mode=0755 tmpfs "$MNT" 2>"$WORK/mount.err"; then
	at_exit "umount -l '$MNT'"
	FSTORE=$MNT/store
	init_store "$FSTORE" --compression none
	mkdir -p "$WORK/small"
	randfile "$WORK/small/small.bin" $((100 * KiB))
	manifest "$WORK/small" "$WORK/small.json" >/dev/null
	ID_SMALL=$(add_content "$FSTORE" --kind package --name small "$WORK/small")
	randfile "$WORK/big20.bin" $((20 * 1000 * 1000))
	d0=$(catalog_digest "$FSTORE")
	p0=$(packs_dir_bytes "$FSTORE")
	expect_fail_with '[Nn]o space left|ENOSPC|[Nn]o space|[Dd]isk (is )?full' -- \
		tsm "$FSTORE" content add --kind os-image --name big "$WORK/big20.bin"
	assert_eq "$(catalog_digest "$FSTORE")" "$d0" "catalog after a full-disk import"
	note "packs/ before $p0 bytes, right after the failed import $(packs_dir_bytes "$FSTORE") bytes; tmpfs: $(df -k --output=avail "$MNT" | tail -n 1) KiB free"
	check "full disk: the store still verifies and reads; gc gives the space back; a small import then works"
	verify_ok "$FSTORE"
	cat_check "$FSTORE" "$ID_SMALL" "$WORK/small.json" >/dev/null
	tsm "$FSTORE" gc >/dev/null 2>"$WORK/gc.err" || fail "gc after a full-disk import failed: $(head -c 600 "$WORK/gc.err")"
	assert_le "$(packs_dir_bytes "$FSTORE")" "$p0" "packs/ bytes after gc vs before the failed import"
	verify_ok "$FSTORE"
	randfile "$WORK/after.bin" $((1 * MiB))
	add_content "$FSTORE" --kind package --name after "$WORK/after.bin" >/dev/null
	verify_ok "$FSTORE"
	# Small files go in batches whose chunks a worker writes to the packs
	# while the next batch is read (store/blob_writer.c): a write that runs
	# out of space there fails the import as well, before anything commits.
	check "full disk: many small files (batched, written by a worker) fail with 'No space left', catalog unchanged"
	mkdir -p "$WORK/many"
	for i in $(seq 1 120); do randfile "$WORK/many/f$i.bin" $((48 * KiB)); done
	d0=$(catalog_digest "$FSTORE")
	TSMEDIA_THREADS=4 expect_fail_with '[Nn]o space left' -- \
		tsm "$FSTORE" content add --kind package --name many "$WORK/many"
	assert_eq "$(catalog_digest "$FSTORE")" "$d0" "catalog after a full-disk import of small files"
	verify_ok "$FSTORE"
	cat_check "$FSTORE" "$ID_SMALL" "$WORK/small.json" >/dev/null
else
	skip_part "full-disk case: cannot mount a tmpfs ($(head -c 200 "$WORK/mount.err")); run as root"
fi

check "after all the bad input, the main store verifies and the good item reads back"
verify_ok "$STORE"
cat_check "$STORE" "$ID_GOOD" "$WORK/good.json" >/dev/null
assert_eq "$(json_ids "$STORE")" "$ID_GOOD" "items in the store"

pass
