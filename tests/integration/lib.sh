# shellcheck shell=bash
# Shared helpers for the tsmedia integration tests.  Source it first thing:
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   . "$(dirname "$0")/lib.sh"
#
# It finds the binary ($TSMEDIA, default ../../build/tools/tsmedia relative to
# the script), makes a work dir $WORK under ${TMPDIR:-/tmp} that is removed on
# exit (kept when KEEP_WORK=1), and offers the helpers below.  Exit codes follow
# meson/automake: 0 pass, 1 fail, 77 skip.

set -euo pipefail
set -E
shopt -s inherit_errexit 2>/dev/null || true

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)
PYHELP=("python3" "$TESTS_DIR/tsmtest.py")

# The ID format: a three-character site code, then five uppercase hex digits.
ID_RE='^[A-Z0-9]{3}[0-9A-F]{5}$'

fail() {
	echo "FAIL [$TEST_NAME]: $*" >&2
	exit 1
}

skip() {
	echo "" >&2
	echo "######################################################################" >&2
	echo "SKIP: $*" >&2
	echo "######################################################################" >&2
	exit 77
}

# Loud notice for a skipped part of a test that otherwise runs.
skip_part() {
	echo "" >&2
	echo "######################################################################" >&2
	echo "SKIP (part of $TEST_NAME): $*" >&2
	echo "######################################################################" >&2
	SKIPPED_PARTS+=("$*")
}
SKIPPED_PARTS=()

check() { echo "CHECK: $*"; }
note() { echo "  ... $*"; }

# End of a test: PASS, or SKIP (77) when a part was skipped so the skip is seen.
pass() {
	if ((${#SKIPPED_PARTS[@]})); then
		echo "PASS for everything that ran; skipped parts:"
		printf '  - %s\n' "${SKIPPED_PARTS[@]}"
		skip "$TEST_NAME: ${SKIPPED_PARTS[*]}"
	fi
	echo "PASS"
	exit 0
}

trap 'rc=$?; echo "FAIL [$TEST_NAME]: command failed (exit $rc) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

# ------------------------------------------------------------------ binary
TSMEDIA=${TSMEDIA:-$(dirname "$0")/../../build/tools/tsmedia}
if [[ ! -x $TSMEDIA ]]; then
	fail "tsmedia binary not found or not executable at '$TSMEDIA' (build it: meson setup build && ninja -C build, or set TSMEDIA)"
fi
TSMEDIA=$(cd "$(dirname "$TSMEDIA")" && pwd)/$(basename "$TSMEDIA")
export TSMEDIA
# Never touch a real store by accident.
unset TSMEDIA_STORE

for _tool in sqlite3 python3 openssl sha256sum timeout; do
	command -v "$_tool" >/dev/null || skip "$_tool is not installed (Debian: sqlite3, python3, openssl, coreutils)"
done

# ------------------------------------------------------------------ work dir
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tsmedia-$TEST_NAME.XXXXXX")
# Python in the tests is Debian's, with modules from apt, whatever python3 comes
# first in PATH (a python3 of a user's own would lack them, or bring others):
# every "python3", in this shell and in anything it starts, is /usr/bin/python3.
if [[ -x /usr/bin/python3 ]]; then
	mkdir "$WORK/.python"
	ln -s /usr/bin/python3 "$WORK/.python/python3"
	export PATH="$WORK/.python:$PATH"
fi
export XDG_DATA_HOME=$WORK/xdg
_CLEANUP_HOOKS=()
# at_exit CMD...: run CMD (eval'd) when the test exits, last registered first.
at_exit() { _CLEANUP_HOOKS=("$*" "${_CLEANUP_HOOKS[@]}"); }
_cleanup() {
	local rc=$? h
	trap - ERR
	set +e
	for h in "${_CLEANUP_HOOKS[@]}"; do
		eval "$h" >/dev/null 2>&1
	done
	if [[ ${KEEP_WORK:-0} == 1 ]]; then
		echo "work dir kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers
sha() { sha256sum "$1" | cut -d' ' -f1; }

# assert_eq GOT EXPECTED MSG
assert_eq() {
	[[ "$1" == "$2" ]] || fail "${3:-values differ}: got '$1', expected '$2'"
}
assert_ne() {
	[[ "$1" != "$2" ]] || fail "${3:-values are equal}: both '$1'"
}
# assert_le A B MSG  (integers)
assert_le() {
	(($1 <= $2)) || fail "${3:-not <=}: $1 > $2"
}
assert_ge() {
	(($1 >= $2)) || fail "${3:-not >=}: $1 < $2"
}
assert_match() {
	[[ "$1" =~ $2 ]] || fail "${3:-no match}: '$1' does not match /$2/"
}

# Escape a string for use as a literal inside an ERE.
re_escape() { printf '%s' "$1" | sed -e 's/[][\.*^$+?(){}|/]/\\&/g'; }

# tsm STORE ARGS...: run tsmedia on STORE (with a timeout so a hang fails).
tsm() {
	local store=$1
	shift
	timeout -k 10 "${TSM_TIMEOUT:-300}" "$TSMEDIA" --store "$store" "$@"
}

# expect_fail_with REGEX -- CMD...: CMD must exit non-zero (not by a signal or
# timeout) and its stderr must match the extended REGEX.  Leaves the output in
# $LAST_STDOUT / $LAST_STDERR (files).
LAST_STDOUT=$WORK/.last.out
LAST_STDERR=$WORK/.last.err
expect_fail_with() {
	local re=$1 rc=0
	shift
	[[ ${1-} == -- ]] && shift
	"$@" >"$LAST_STDOUT" 2>"$LAST_STDERR" || rc=$?
	if ((rc == 0)); then
		fail "expected failure, but exit 0: $*
  stdout: $(head -c 600 "$LAST_STDOUT")
  stderr: $(head -c 600 "$LAST_STDERR")"
	fi
	((rc == 124)) && fail "timed out (hang?): $*"
	((rc > 128)) && fail "killed by signal $((rc - 128)) (crash?): $*
  stderr: $(tail -c 1000 "$LAST_STDERR")"
	grep -Eq -- "$re" "$LAST_STDERR" ||
		fail "exit $rc as expected, but stderr does not match /$re/: $*
  stderr: $(head -c 1000 "$LAST_STDERR")"
	note "failed as expected (exit $rc): $(head -n 2 "$LAST_STDERR" | tr '\n' ' ' | head -c 240)"
}

# refused_unchanged STORE DESCRIPTION REGEX -- CMD...: CMD fails with stderr matching REGEX
# (expect_fail_with) and STORE's catalog is what it was before.
refused_unchanged() {
	local store=$1 desc=$2 re=$3 d0
	shift 3
	d0=$(catalog_digest "$store")
	expect_fail_with "$re" "$@"
	assert_eq "$(catalog_digest "$store")" "$d0" "catalog changed by a refused command ($desc)"
}

# catalog_digest STORE: SHA-256 of `sqlite3 .dump` of the catalog.  Dumps a
# copy (db + WAL) so that reading never changes the store itself.
catalog_digest() {
	local store=$1 tmp
	[[ -f $store/catalog.db ]] || { echo "no-catalog"; return 0; }
	tmp=$(mktemp -d "$WORK/.digest.XXXXXX")
	cp "$store/catalog.db" "$tmp/catalog.db"
	[[ -f $store/catalog.db-wal ]] && cp "$store/catalog.db-wal" "$tmp/catalog.db-wal"
	sqlite3 "$tmp/catalog.db" .dump | sha256sum | cut -d' ' -f1
	rm -rf "$tmp"
}

# pack_bytes STORE: bytes in STORE/packs/*.pack on disk.
pack_bytes() {
	find "$1/packs" -maxdepth 1 -type f -name '*.pack' -printf '%s\n' 2>/dev/null |
		awk '{ s += $1 } END { printf "%.0f\n", s }'
}
# catalog_rows STORE [QUERY...]: the catalog rows STORE's content is made of
# (chunks, blobs, packs, content, versions, tree entries, meta: every column
# but the clock's, created), each query's rows after a "-- QUERY" line; each
# QUERY adds its rows after those.
catalog_rows() {
	python3 - "$@" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s/catalog.db?mode=ro" % sys.argv[1], uri=True)
for q in ["SELECT id, hex(hash), pack, offset, stored_size, size, codec FROM chunks ORDER BY id",
          "SELECT id, hex(sha256), hex(sha1), size FROM blobs ORDER BY id",
          "SELECT blob, seq, chunk FROM blob_chunks ORDER BY blob, seq",
          "SELECT id FROM packs ORDER BY id",
          "SELECT id, kind, name, removed FROM content ORDER BY id",
          "SELECT id, content, version, label, source, removed, files, bytes FROM content_versions ORDER BY id",
          "SELECT version, path, mode, mtime_ns, attributes, size, blob, link_target FROM tree_entries ORDER BY version, path",
          "SELECT version, key, hex(value) FROM content_meta ORDER BY version, key",
          "SELECT key, value FROM meta ORDER BY key"] + sys.argv[2:]:
    print("--", q)
    for row in db.execute(q):
        print(row)
PY
}

# same_stores A B WHAT [QUERY...]: stores A and B hold the same pack files,
# byte for byte, and the same catalog rows in the same order (catalog_rows,
# QUERY... added), at least 700 of them; WHAT names the pair in messages.
same_stores() {
	local a=$1 b=$2 what=$3
	shift 3
	(cd "$a/packs" && ls) >"$WORK/packs-a"
	(cd "$b/packs" && ls) >"$WORK/packs-b"
	cmp -s "$WORK/packs-a" "$WORK/packs-b" || fail "$what: different pack files: $(diff "$WORK/packs-a" "$WORK/packs-b" | head -5)"
	[[ -s $WORK/packs-a ]] || fail "$what: no packs written"
	while read -r p; do
		cmp "$a/packs/$p" "$b/packs/$p" || fail "$what: pack $p differs"
	done <"$WORK/packs-a"
	catalog_rows "$a" "$@" >"$WORK/rows-a"
	catalog_rows "$b" "$@" >"$WORK/rows-b"
	diff "$WORK/rows-a" "$WORK/rows-b" >"$WORK/rows.diff" || fail "$what: catalog rows differ: $(head -20 "$WORK/rows.diff")"
	assert_ge "$(grep -c "^(" "$WORK/rows-a")" 700 "$what: rows compared"
	note "$what: $(wc -l <"$WORK/packs-a") pack(s), $(pack_bytes "$a") bytes, $(grep -c "^(" "$WORK/rows-a") rows, identical"
}

# packs_dir_bytes STORE: bytes of every regular file below STORE/packs.
packs_dir_bytes() {
	find "$1/packs" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# stat_get STORE KEY: one value of `tsmedia stats --json`.
stat_get() {
	local out
	out=$(tsm "$1" stats --json) || fail "tsmedia stats --json failed on $1"
	printf '%s' "$out" | "${PYHELP[@]}" get - "$2"
}

# json_ids STORE: content IDs listed by `content list --json`, sorted.
json_ids() {
	local out
	out=$(tsm "$1" content list --json) || fail "tsmedia content list --json failed on $1"
	printf '%s' "$out" | "${PYHELP[@]}" ids -
}

# add_content STORE ARGS...: `content add ARGS`, must succeed; prints the ID.
add_content() {
	local store=$1 out rc=0 ids n
	shift
	out=$(tsm "$store" content add "$@" 2>"$WORK/.add.err") || rc=$?
	if ((rc != 0)); then
		cat "$WORK/.add.err" >&2
		fail "content add $* exited $rc"
	fi
	ids=$(printf '%s\n' "$out" | grep -E "$ID_RE" || true)
	n=$(printf '%s' "$ids" | grep -c . || true)
	((n == 1)) || fail "content add $* did not print one content ID alone on a line; stdout was: '$out'"
	printf '%s\n' "$ids"
}

# init_store DIR [ARGS...]: `tsmedia --store DIR init ARGS`, must succeed.
init_store() {
	local store=$1
	shift
	tsm "$store" init "$@" >/dev/null || fail "tsmedia --store $store init $* failed"
	[[ -f $store/catalog.db ]] || fail "init did not create $store/catalog.db"
}

# randfile PATH BYTES: fast incompressible random bytes (AES-CTR keystream).
_RANDSEED=0
randfile() {
	local path=$1 n=$2
	_RANDSEED=$((_RANDSEED + 1))
	if ((n == 0)); then
		: >"$path"
		return 0
	fi
	{ openssl enc -aes-128-ctr -pbkdf2 -iter 1 -nosalt \
		-pass "pass:$$-$_RANDSEED-$RANDOM$RANDOM-$path" </dev/zero 2>/dev/null || true; } |
		head -c "$n" >"$path"
	[[ $(stat -c %s "$path") == "$n" ]] || fail "randfile: could not write $n bytes to $path"
}

# manifest TREE OUT.json: prints "NFILES NBYTES".
manifest() { "${PYHELP[@]}" manifest "$1" "$2"; }

# cat_check STORE ID MANIFEST [--only PATH ...]: every file cats byte-identical.
cat_check() {
	local store=$1 id=$2 man=$3
	shift 3
	"${PYHELP[@]}" cat-check "$TSMEDIA" "$store" "$id" "$man" "$@" ||
		fail "content cat of $id does not give back the source bytes"
}

# show_json STORE ID OUT.json
show_json() {
	tsm "$1" content show "$2" --json >"$3" || fail "content show $2 --json failed"
}

# verify_ok STORE: `tsmedia verify` must exit 0.
verify_ok() {
	local rc=0
	tsm "$1" verify >"$WORK/.verify.out" 2>"$WORK/.verify.err" || rc=$?
	((rc == 0)) || fail "verify exited $rc on $1: $(head -c 1500 "$WORK/.verify.err")"
}

# pki_init DIR: an openssl configuration and CA database in DIR for tests
# that make their own root CAs and certificates (`openssl req -x509 -config
# DIR/openssl.cnf -extensions v3_ca`, `openssl ca -config ...`).
pki_init() {
	local P=$1
	mkdir -p "$P/issued"
	: >"$P/index.txt"
	echo 1000 >"$P/serial"
	cat >"$P/openssl.cnf" <<-'EOF'
	[req]
	distinguished_name = dn
	prompt = no
	[dn]
	CN = unused
	[v3_ca]
	basicConstraints = critical,CA:TRUE
	keyUsage = critical,keyCertSign,cRLSign
	subjectKeyIdentifier = hash
	[v3_client]
	basicConstraints = critical,CA:FALSE
	keyUsage = critical,digitalSignature,keyEncipherment
	extendedKeyUsage = clientAuth
	[ca]
	default_ca = test_ca
	[test_ca]
	dir = PKIDIR
	database = $dir/index.txt
	new_certs_dir = $dir/issued
	serial = $dir/serial
	default_md = sha256
	policy = any
	unique_subject = no
	[any]
	commonName = supplied
	EOF
	sed -i "s|PKIDIR|$P|" "$P/openssl.cnf"
}

# ------------------------------------------------------------------ boot checks
# Every QEMU boot check of the suite goes through boot_check/expect_boot, so
# that one matcher decides whether a banner appeared.
#
# strip_terminal_codes: stdin to stdout without what a console sends besides
# text.  Firmware and boot loaders redraw the screen over the serial port, and
# their control sequences can land inside a line ("booted und ESC[17;24H
# ESC[17;25Her BIOS"), so a banner is matched only after removing: OSC strings
# (ESC ] ... BEL or ESC \), CSI sequences with any parameters and
# intermediates (ESC [ ... final byte 0x40-0x7E: cursor moves, colours,
# erases, modes), then every other escape: intermediates 0x20-0x2F and a final
# byte (character set designations ESC ( B and ESC ) 0, ESC 7, ESC 8, ESC =,
# ESC >, ESC c, ESC M ...; ECMA-48 section 5.3), the
# shift-in/shift-out and bell controls, carriage returns and line breaks (a
# console that wraps at its last column splits a banner across lines).
# Byte-wise (LC_ALL=C): a log is not always valid UTF-8.
strip_terminal_codes() {
	LC_ALL=C sed -E \
		-e 's#\x1b\][^\x07\x1b]*(\x07|\x1b\\)##g' \
		-e 's#\x1b\[[0-?]*[ -/]*[@-~]##g' \
		-e 's#\x1b[ -/]*[0-~]##g' |
		LC_ALL=C tr -d '\r\n\016\017\007'
}

# banner_in_log LOG BANNER: whether BANNER (a fixed string) is in LOG once the
# terminal's codes are removed.
banner_in_log() {
	[[ -f $1 ]] || return 1
	strip_terminal_codes <"$1" | LC_ALL=C grep -aqF -- "$2"
}

# boot_check NAME BANNER QEMU-ARGS...: start QEMU (${QEMU:-qemu-system-x86_64})
# with its serial port written to $WORK/boot.NAME.serial (QEMU's own output in
# $WORK/boot.NAME.out), no monitor, no reboot and -nographic (which also has
# SeaBIOS copy the VGA text screen to the serial port, as cursor moves and
# text: that is how isolinux's SAY lines reach the log), and wait for BANNER.  Returns 0 as soon as the banner is seen (QEMU is stopped then, not
# left to time out), 1 when QEMU exits without it or when BOOT_TIMEOUT seconds
# (default 240: emulated boots on a loaded machine) pass.  The deadline is a
# limit, not a wait: a passing boot costs only the time it takes.
# BOOT_SECONDS tells how long it took.
boot_check() {
	local name=$1 banner=$2 limit=${BOOT_TIMEOUT:-240} pid start rc=1
	shift 2
	local log=$WORK/boot.$name.serial out=$WORK/boot.$name.out
	: >"$log"
	"${QEMU:-qemu-system-x86_64}" -nographic -monitor none -no-reboot \
		-serial "file:$log" "$@" >"$out" 2>&1 &
	pid=$!
	at_exit "kill -9 $pid 2>/dev/null"
	start=$SECONDS
	while :; do
		if banner_in_log "$log" "$banner"; then
			rc=0
			break
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			# Exited: what it wrote last may hold the banner.
			banner_in_log "$log" "$banner" && rc=0
			break
		fi
		((SECONDS - start < limit)) || break
		sleep 0.2
	done
	BOOT_SECONDS=$((SECONDS - start))
	_boot_stop "$pid"
	return "$rc"
}

# _boot_stop PID: stop QEMU (TERM, then KILL after 5 s) and reap it.
_boot_stop() {
	local i
	kill "$1" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# expect_boot NAME BANNER QEMU-ARGS...: boot_check, and fail the test with the
# end of the serial log (as text) and QEMU's output when the banner is missing.
expect_boot() {
	local name=$1 banner=$2
	shift 2
	note "qemu [$name] $*"
	if boot_check "$name" "$banner" "$@"; then
		note "$name: '$banner' after $BOOT_SECONDS s"
		return 0
	fi
	fail "$name: no '$banner' on the serial console within ${BOOT_TIMEOUT:-240} s (ran $BOOT_SECONDS s; QEMU args: $*); serial log as text: $(strip_terminal_codes <"$WORK/boot.$name.serial" | tail -c 600); QEMU: $(tail -c 400 "$WORK/boot.$name.out")"
}

# ------------------------------------------------------------------ the mount
# fs_require: skip unless FUSE and tsmediafs ($TSMEDIAFS) are there.
fs_require() {
	[[ -e /dev/fuse ]] || skip "/dev/fuse is missing"
	command -v fusermount3 >/dev/null || skip "fusermount3 is not installed (Debian: fuse3)"
	TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
	[[ -x $TSMEDIAFS ]] || fail "tsmediafs not found at $TSMEDIAFS"
}
# fs_start STORE MNT [TSMEDIAFS ARGS...]: mount in the foreground, messages
# to $WORK/daemon.log; sets FS_PID; unmounted when the test exits.
FS_PID=
fs_start() {
	local store=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	"$TSMEDIAFS" --store "$store" "$mnt" -f "$@" 2>>"$WORK/daemon.log" &
	FS_PID=$!
	at_exit "fusermount3 -u '$mnt'; kill -9 $FS_PID"
	for _ in $(seq 100); do
		mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	cat "$WORK/daemon.log" >&2
	fail "tsmediafs did not mount within 10 s"
}
# fs_stop MNT: unmount and wait for the daemon.
fs_stop() {
	fusermount3 -u "$1" 2>/dev/null || true
	[[ -n $FS_PID ]] && wait "$FS_PID" 2>/dev/null || true
	FS_PID=
}
# wait_until SECONDS CMD...: retry CMD every 0.1 s until it succeeds.
wait_until() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# ------------------------------------------------------------------ nginx
# nginx_serve REPO_ROOT MNT: nginx with tools/nginx/tsmedia.conf as shipped
# (only its port, on 127.0.0.1, and its root changed to MNT), workers as
# www-data, in the frame of Debian's /etc/nginx/nginx.conf.  Sets port, url,
# ngx (its directory) and nginx_pid; stopped when the test exits.  A third
# argument "no-log": no access log (load tests).
nginx_serve() {
	local root=$1 mnt=$2 workers access="access_log $WORK/nginx/logs/access.log;"
	[[ ${3:-} == no-log ]] && access="access_log off;"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	ngx=$WORK/nginx
	mkdir -p "$ngx/logs" "$ngx/tmp"
	sed -e "s|^\tlisten 80 default_server;\$|\tlisten 127.0.0.1:$port default_server;|" \
		-e '/^\tlisten \[::\]:80 default_server;$/d' \
		-e "s|^\troot /srv/tsmedia;\$|\troot $mnt;|" "$root/tools/nginx/tsmedia.conf" >"$ngx/tsmedia.conf"
	grep -q "listen 127.0.0.1:$port" "$ngx/tsmedia.conf" || fail "no 'listen 80 default_server;' to substitute in tools/nginx/tsmedia.conf"
	grep -q "root $mnt;" "$ngx/tsmedia.conf" || fail "no 'root /srv/tsmedia;' to substitute in tools/nginx/tsmedia.conf"
	cat >"$ngx/nginx.conf" <<EOF
user www-data;
worker_processes auto;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log;
events { worker_connections 1024; }
http {
	$access
	client_body_temp_path $ngx/tmp/body;
	proxy_temp_path $ngx/tmp/proxy;
	fastcgi_temp_path $ngx/tmp/fastcgi;
	uwsgi_temp_path $ngx/tmp/uwsgi;
	scgi_temp_path $ngx/tmp/scgi;
	include $ngx/tsmedia.conf;
}
EOF
	nginx -t -p "$ngx" -c "$ngx/nginx.conf" >"$ngx/t.out" 2>&1 || fail "nginx -t: $(cat "$ngx/t.out")"
	nginx -p "$ngx" -c "$ngx/nginx.conf" -g 'daemon off;' 2>>"$ngx/logs/stderr" &
	nginx_pid=$!
	at_exit "kill $nginx_pid"
	url=http://127.0.0.1:$port
	wait_until 10 curl -sf -o /dev/null "$url/" ||
		fail "nginx does not answer on $url: $(cat "$ngx/logs/stderr" "$ngx/logs/error.log" 2>/dev/null | tail -5)"
	workers=$(ps -o user= --ppid "$nginx_pid" | sort -u | tr '\n' ' ')
	assert_eq "$workers" "www-data " "users of the nginx workers"
}

# The shell completion tests (completion.sh, completion_zsh.sh) define
# complete_line LINE: the completions offered at the end of LINE, sorted.
# expect LINE WORD...: the completions of LINE are exactly WORD...
expect() {
	local line=$1 got want
	shift
	got=$(complete_line "$line")
	want=$(printf '%s\n' "$@" | sed '/^$/d' | sort)
	[[ $got == "$want" ]] || fail "completing '$line': got [$(tr '\n' ' ' <<<"$got")], expected [$(tr '\n' ' ' <<<"$want")]"
	note "'$line' -> $(tr '\n' ' ' <<<"$got")"
}
# expect_has LINE WORD...: the completions of LINE include every WORD.
expect_has() {
	local line=$1 got w
	shift
	got=$(complete_line "$line")
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" || fail "completing '$line': '$w' missing from [$(tr '\n' ' ' <<<"$got")]"
	done
	note "'$line' -> includes $*"
}
# completion_store DIR: a store (site code PS1) for the completion tests:
# content $ID1 and $ID2, media alpha and beta.2, site PS1.
completion_store() {
	local s=$1
	init_store "$s" --site-code PS1
	mkdir -p "$WORK/src/a" "$WORK/src/b"
	echo one >"$WORK/src/a/f"
	echo two >"$WORK/src/b/g"
	ID1=$(add_content "$s" --kind package --name A "$WORK/src/a")
	ID2=$(add_content "$s" --kind package --name B "$WORK/src/b")
	tsm "$s" media create --type data --name alpha --content "$ID1" >/dev/null 2>&1
	tsm "$s" media create --type data --name beta.2 --content "$ID2" >/dev/null 2>&1
	tsm "$s" site add --code PS1 --type primary --mp http://mp.example >/dev/null 2>&1
}
# korean_help: 0 when tsmedia can speak Korean here (the ko_KR.UTF-8 locale,
# the catalogue in $TEXTDOMAINDIR) and its --help is translated (fails if
# not); 1, with the reason as a skipped part, when it cannot.
korean_help() {
	if ! locale -a 2>/dev/null | grep -qix 'ko_KR\.utf-\?8'; then
		skip_part "the ko_KR.UTF-8 locale is not installed (tools/setup.sh --for-tests makes it): not checked under it"
		return 1
	fi
	if [[ ! -f ${TEXTDOMAINDIR:-/nonexistent}/ko/LC_MESSAGES/tsmedia.mo ]]; then
		skip_part "no Korean catalogue in \$TEXTDOMAINDIR (meson test points it at build/po): not checked under ko_KR.UTF-8"
		return 1
	fi
	[[ $(LC_ALL=ko_KR.UTF-8 "$TSMEDIA" --help) != "$(LC_ALL=C "$TSMEDIA" --help)" ]] ||
		fail "tsmedia --help is the same under ko_KR.UTF-8 and C: the Korean catalogue is not used"
}

echo "== $TEST_NAME (tsmedia: $TSMEDIA, work: $WORK)"
