#!/usr/bin/env bash
# Versioned paths (issue 21).  A set stays consistent: volume 1 of a
# two-volume stand-alone set is opened at the mount's root, a package on
# volume 2 is updated, volume 2 is opened from versions/NAME/1/: every file
# volume 1's manifest puts on volume 2 is there with its SHA-256 (judged by
# xorriso), while the root's new volume 2 would not match.  versions/NAME/N/
# never changes: same bytes as `media export --version N`, same mtime across
# the update and a remount, read-only; `media show` prints the paths; `media
# export -o DIR` writes every volume of one version.  gc --keep-versions
# decides which versions stay; what the listing shows is pinned.  Then the
# same through nginx: byte ranges of versioned paths across an update, with
# ETag and Last-Modified that never change there (and do change at the root).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sets.sh"

fs_require
for t in xorriso truncate; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: xorriso coreutils)"
done
root=$(cd "$(dirname "$0")/../.." && pwd)
chmod 0711 "$WORK" # www-data reaches the mount (nginx part); the store stays 0700
store=$WORK/store
mnt=$WORK/mnt
init_store "$store" --site-code PS1

make_two_volume_set "$store" set
mkdir -p "$WORK/v1"
tsm "$store" media export set -o "$WORK/v1/" >"$WORK/export.out"
assert_match "$(cat "$WORK/export.out")" "exported 2 volume\(s\) of media set version 1 \(versions/set/1\)"
fs_start "$store" "$mnt" -o allow_other

check "versions/set/1/ holds both volumes, the bytes media export wrote; media show prints the paths"
assert_eq "$(ls "$mnt/versions")" set "versions/"
assert_eq "$(ls "$mnt/versions/set" | tr '\n' ' ')" "1 " "versions/set/"
assert_eq "$(ls "$mnt/versions/set/1" | tr '\n' ' ')" "set.1.iso set.2.iso " "versions/set/1/"
for v in 1 2; do
	cmp -s "$mnt/versions/set/1/set.$v.iso" "$WORK/v1/set.$v.iso" || fail "versions/set/1/set.$v.iso differs from the export"
done
tsm "$store" media show set >"$WORK/show.txt"
for v in 1 2; do
	grep -qx "  versions/set/1/set.$v.iso" "$WORK/show.txt" || fail "media show does not print versions/set/1/set.$v.iso: $(cat "$WORK/show.txt")"
done
tsm "$store" media show set --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["version_number"] == 1 and d["paths"] == ["versions/set/1/set.1.iso", "versions/set/1/set.2.iso"] and d["versions_kept"] == [1], d
' || fail "media show --json: version_number, paths, versions_kept"
mtime1=$(stat -c %Y "$mnt/versions/set/1/set.1.iso")
touch "$mnt/versions/set/1/set.1.iso" 2>/dev/null && fail "a versioned file could be touched"
mkdir "$mnt/versions/set/9" 2>/dev/null && fail "a directory could be made under versions/"

check "volume 1 opened at the root, a package updated, volume 2 from versions/set/1/: one version"
# The reader opens set.1.iso and reads its first MiB, then waits; after the
# update it reads the rest: a burner or a copy of disc 1 in progress.
python3 - "$mnt/set.1.iso" "$WORK/held1.iso" "$WORK/held.ready" "$WORK/held.go" <<'PY' &
import os, sys, time
src, out, ready, go = sys.argv[1:]
with open(src, "rb") as f, open(out, "wb") as o:
    o.write(f.read(1 << 20))
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.05)
    for b in iter(lambda: f.read(1 << 20), b""):
        o.write(b)
PY
reader=$!
wait_until 30 test -e "$WORK/held.ready" || fail "the reader of set.1.iso did not start"
update_package_b "$store"
wait_until 10 test -d "$mnt/versions/set/2" || fail "versions/set/2 did not appear: $(ls "$mnt/versions/set")"
assert_eq "$(ls "$mnt/versions/set" | tr '\n' ' ')" "1 2 " "versions/set/ after the update"
touch "$WORK/held.go"
wait "$reader" || fail "the reader of set.1.iso failed"
cmp -s "$WORK/held1.iso" "$WORK/v1/set.1.iso" || fail "the open volume 1 changed under its reader"
xorriso -osirrox on -indev "$WORK/held1.iso" -extract /SMS/data/Manifest.txt "$WORK/manifest1.txt" >/dev/null 2>&1 ||
	fail "xorriso cannot read the manifest of volume 1"
manifest_check "$WORK/manifest1.txt" 2 "$mnt/versions/set/1/set.2.iso" >"$WORK/mcheck.out" ||
	fail "volume 2 from versions/set/1/ does not match volume 1's manifest: $(head -5 "$WORK/mcheck.out")"
note "every file volume 1's manifest puts on volume 2 matches versions/set/1/set.2.iso"
# The check can fail: the root's volume 2 is the new version's.
if manifest_check "$WORK/manifest1.txt" 2 "$mnt/set.2.iso" >"$WORK/mcheck.new" ; then
	fail "the root's new set.2.iso matches the old volume 1's manifest: the update changed nothing on volume 2"
fi
note "the root's new set.2.iso does not: $(head -1 "$WORK/mcheck.new")"

check "versions/set/1/ is unchanged by the update; versions/set/2/ and the root are the new version"
for v in 1 2; do
	cmp -s "$mnt/versions/set/1/set.$v.iso" "$WORK/v1/set.$v.iso" || fail "versions/set/1/set.$v.iso changed with the update"
done
assert_eq "$(stat -c %Y "$mnt/versions/set/1/set.1.iso")" "$mtime1" "mtime of versions/set/1/set.1.iso after the update"
mkdir -p "$WORK/v2" "$WORK/v1again"
tsm "$store" -q media export set -o "$WORK/v2"
tsm "$store" -q media export set --version 1 -o "$WORK/v1again/"
for v in 1 2; do
	cmp -s "$WORK/v1again/set.$v.iso" "$WORK/v1/set.$v.iso" || fail "media export --version 1 volume $v differs from the first export"
	cmp -s "$mnt/versions/set/2/set.$v.iso" "$WORK/v2/set.$v.iso" || fail "versions/set/2/set.$v.iso differs from media export"
	cmp -s "$mnt/set.$v.iso" "$WORK/v2/set.$v.iso" || fail "the root's set.$v.iso is not the newest version"
done
cmp -s "$WORK/v1/set.2.iso" "$WORK/v2/set.2.iso" && fail "volume 2 did not change with the package"
expect_fail_with "media 'set' has no version 7" -- tsm "$store" media export set --version 7 -o "$WORK/x.iso"
[[ -e $WORK/x.iso ]] && fail "a failed export left $WORK/x.iso"
expect_fail_with "a directory, which takes every volume" -- tsm "$store" media export set -o "$WORK/v2" --volume 1

check "a remount serves the same versioned paths with the same times"
fs_stop "$mnt"
fs_start "$store" "$mnt" -o allow_other
assert_eq "$(stat -c %Y "$mnt/versions/set/1/set.1.iso")" "$mtime1" "mtime of versions/set/1/set.1.iso after a remount"
cmp -s "$mnt/versions/set/1/set.2.iso" "$WORK/v1/set.2.iso" || fail "versions/set/1/set.2.iso after a remount"

# ------------------------------------------------------------------ nginx
have_nginx=1
for t in nginx curl; do command -v "$t" >/dev/null || have_nginx=0; done
[[ $(id -u) == 0 ]] && getent passwd www-data >/dev/null || have_nginx=0
if ((have_nginx)); then
	nginx_serve "$root" "$mnt"
	check "through nginx: byte ranges of versions/set/2/ across an update; validators never change there"
	head_of() { curl -sfI "$url/$1" | tr -d '\r' | grep -iE '^(etag|last-modified):' | sort; }
	head_of versions/set/2/set.1.iso >"$WORK/h1.before"
	head_of versions/set/2/set.2.iso >"$WORK/h2.before"
	head_of set.2.iso >"$WORK/root.before"
	[[ -s $WORK/h1.before && -s $WORK/root.before ]] || fail "no ETag or Last-Modified from nginx"
	# Ranges of volume 1 before the update, of both volumes after it.
	python3 - "$port" "$WORK/v2" "$WORK/ranges.ready" "$WORK/ranges.go" <<'PY' &
import http.client, os, random, sys, time
port, exp, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rnd = random.Random(21)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def check(v, n):
    path = f"{exp}/set.{v}.iso"
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        for _ in range(n):
            lo = rnd.randrange(size); hi = min(size - 1, lo + rnd.choice([1, 2047, 65536, 1 << 20]))
            c.request("GET", f"/versions/set/2/set.{v}.iso", headers={"Range": f"bytes={lo}-{hi}"})
            r = c.getresponse(); body = r.read()
            f.seek(lo)
            if r.status != 206 or body != f.read(hi - lo + 1):
                sys.exit(f"volume {v} bytes {lo}-{hi}: HTTP {r.status}, {len(body)} bytes that differ from the export of version 2")
check(1, 100)
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
check(1, 100); check(2, 200)
PY
	ranger=$!
	wait_until 60 test -e "$WORK/ranges.ready" || fail "the range reader did not start"
	update_package_b "$store"
	wait_until 10 test -d "$mnt/versions/set/3" || fail "versions/set/3 did not appear"
	touch "$WORK/ranges.go"
	wait "$ranger" || fail "byte ranges of versions/set/2/ across the update"
	note "400 byte ranges of versions/set/2/ before and after the update: the export's bytes"
	head_of versions/set/2/set.1.iso >"$WORK/h1.after"
	head_of versions/set/2/set.2.iso >"$WORK/h2.after"
	head_of set.2.iso >"$WORK/root.after"
	cmp -s "$WORK/h1.before" "$WORK/h1.after" || fail "validators of versions/set/2/set.1.iso changed: $(cat "$WORK/h1.before") / $(cat "$WORK/h1.after")"
	cmp -s "$WORK/h2.before" "$WORK/h2.after" || fail "validators of versions/set/2/set.2.iso changed"
	cmp -s "$WORK/root.before" "$WORK/root.after" && fail "the root's set.2.iso kept its validators across a new version"
	etag=$(sed -n 's/^[Ee][Tt]ag: //p' "$WORK/h2.after")
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$url/versions/set/2/set.2.iso")
	assert_eq "$code" 304 "GET versions/set/2/set.2.iso If-None-Match its ETag after the update"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-Range: $etag" -H "Range: bytes=1048576-2097151" "$url/versions/set/2/set.2.iso")
	assert_eq "$code" 206 "a download of versions/set/2/set.2.iso resumed after the update"
	note "ETag, Last-Modified: $(tr '\n' ' ' <"$WORK/h2.after")"
else
	skip_part "nginx (nginx-light, curl, root and www-data) for the HTTP part"
fi

check "gc --keep-versions 2 keeps the two newest; gc lets older ones go; the listing pins what it shows"
tsm "$store" -q gc --keep-versions 2
wait_until 10 bash -c "[[ \$(ls '$mnt/versions/set' | tr '\n' ' ') == '2 3 ' ]]" ||
	fail "after gc --keep-versions 2: versions/set/ lists '$(ls "$mnt/versions/set" | tr '\n' ' ')', expected '2 3'"
cmp -s "$mnt/versions/set/2/set.2.iso" "$WORK/v2/set.2.iso" || fail "versions/set/2 after gc --keep-versions 2"
cvs_before=$(sqlite3 "$store/catalog.db" "SELECT count(*) FROM content_versions WHERE content = 'PS100B0B'")
tsm "$store" -q gc
wait_until 10 bash -c "[[ \$(ls '$mnt/versions/set' | tr '\n' ' ') == '3 ' ]]" ||
	fail "after gc: versions/set/ lists '$(ls "$mnt/versions/set" | tr '\n' ' ')', expected '3'"
tsm "$store" -q gc
cvs_after=$(sqlite3 "$store/catalog.db" "SELECT count(*) FROM content_versions WHERE content = 'PS100B0B'")
assert_eq "$cvs_after" 1 "versions of PS100B0B once versions/set/2 is no longer listed (before: $cvs_before)"
expect_fail_with "media 'set' has no version 2" -- tsm "$store" media export set --version 2 -o "$WORK/x.iso"
expect_fail_with "keep-versions wants a number" -- tsm "$store" gc --keep-versions 0
verify_ok "$store"

check "numbers are never given twice: media rm, gc, a new media of the name starts after them"
tsm "$store" -q media rm set
wait_until 10 test ! -e "$mnt/versions/set" || fail "versions/set is still listed after media rm"
tsm "$store" -q gc
mkdir -p "$WORK/small"
echo small >"$WORK/small/f.txt"
ids=$(add_content "$store" --kind package --name small "$WORK/small")
tsm "$store" -q media create --type data --name set --content "$ids"
wait_until 10 test -f "$mnt/versions/set/4/set.iso" ||
	fail "the new media 'set' is not versions/set/4: $(ls -R "$mnt/versions")"
assert_eq "$(ls "$mnt/versions/set")" 4 "versions/set/ of the new media"
fs_stop "$mnt"
pass
