#!/usr/bin/env bash
# nginx serving the mount: tools/nginx/tsmedia.conf (only its port and root
# changed) on 127.0.0.1, workers as www-data, the mount made with
# allow_other.  curl fetches whole files (SHA-256 = `media export`), HEAD
# gives the sizes, 1,000 random byte ranges over one keep-alive connection
# equal the same slices of the exports; a download in flight keeps its
# version while the media changes.  The boot demo ISO boots in QEMU through
# QEMU's curl block driver, straight from the mount, and through iPXE's
# sanboot with tools/ipxe/sanboot.ipxe (SeaBIOS and OVMF); the banner is on
# the serial console each time.  Last: a new version of a media has a new
# ETag and Last-Modified, so HTTP caches and resumed downloads never mix two
# versions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ -e /dev/fuse ]] || skip "/dev/fuse is missing"
for t in fusermount3 nginx curl setpriv; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: fuse3, nginx-light, curl, util-linux)"
done
[[ $(id -u) == 0 ]] || skip "nginx runs its workers as www-data: run as root"
getent passwd www-data >/dev/null || skip "no www-data user"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
[[ -x $TSMEDIAFS ]] || fail "tsmediafs not found at $TSMEDIAFS"
root=$(cd "$(dirname "$0")/../.." && pwd)

chmod 0711 "$WORK" # www-data reaches the mount; the store stays 0700
store=$WORK/store
mnt=$WORK/mnt
mkdir -p "$mnt"
init_store "$store"
daemon_pid=
nginx_pid=
at_exit 'kill $nginx_pid; fusermount3 -u "$mnt"; kill $daemon_pid'

wait_for() {
	for _ in $(seq 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# ------------------------------------------------------------------ media
mkdir -p "$WORK/d/sources" "$WORK/d/drivers"
randfile "$WORK/d/sources/install.wim" $((20 << 20))
randfile "$WORK/d/drivers/nic.cab" $((3 << 20)) # not a multiple of 2048
echo data >"$WORK/d/readme.txt"
idd=$(add_content "$store" --kind os-image --name D "$WORK/d")
tsm "$store" media create --type data --name data --content "$idd" >/dev/null
have_boot=1
for t in grub-mkstandalone mkfs.fat mcopy; do command -v "$t" >/dev/null || have_boot=0; done
[[ -f /usr/lib/ISOLINUX/isolinux.bin && -f /usr/lib/ISOLINUX/isohdpfx.bin ]] || have_boot=0
media=(data)
if ((have_boot)); then
	"$root/tools/make-boot-demo.sh" "$WORK/boot"
	idb=$(add_content "$store" --kind boot-image --name "boot demo" "$WORK/boot")
	tsm "$store" media create --type data --name boot --content "$idb" \
		--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table \
		--uefi-boot efi/boot.img --hybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin --hybrid-gpt >/dev/null
	media+=(boot)
fi
for m in "${media[@]}"; do tsm "$store" media export "$m" -o "$WORK/$m.iso"; done

"$TSMEDIAFS" --store "$store" "$mnt" -f -o allow_other 2>>"$WORK/daemon.log" &
daemon_pid=$!
wait_for mountpoint -q "$mnt" || fail "tsmediafs did not mount: $(cat "$WORK/daemon.log")"

# ------------------------------------------------------------------ nginx
nginx_serve "$root" "$mnt"

check "the listing names every media; HEAD gives the sizes"
curl -sf "$url/" >"$WORK/index.html" || fail "GET / failed"
for m in "${media[@]}"; do
	grep -q "href=\"$m.iso\"" "$WORK/index.html" || fail "the listing does not name $m.iso: $(cat "$WORK/index.html")"
	curl -sfI "$url/$m.iso" | tr -d '\r' >"$WORK/head.txt" || fail "HEAD $m.iso failed"
	grep -qi "^content-length: $(stat -c %s "$WORK/$m.iso")\$" "$WORK/head.txt" ||
		fail "HEAD $m.iso: wrong size (export: $(stat -c %s "$WORK/$m.iso")): $(cat "$WORK/head.txt")"
	grep -qi '^accept-ranges: bytes$' "$WORK/head.txt" || fail "HEAD $m.iso: no Accept-Ranges: bytes"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$url/data.iso")
[[ $code == 403 || $code == 405 ]] || fail "DELETE data.iso answered $code, expected 403 or 405"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/nothere.iso")
assert_eq "$code" 404 "GET of a media that does not exist"

check "curl fetches whole files: SHA-256 = media export"
for m in "${media[@]}"; do
	curl -sf -o "$WORK/got-$m.iso" -w '%{speed_download}\n' "$url/$m.iso" >"$WORK/speed" || fail "GET $m.iso failed"
	assert_eq "$(sha "$WORK/got-$m.iso")" "$(sha "$WORK/$m.iso")" "$m.iso over HTTP"
	note "$m.iso: $(stat -c %s "$WORK/$m.iso") bytes at $(($(cut -d. -f1 "$WORK/speed") / 1000000)) MB/s"
done

check "1,000 random byte ranges on one keep-alive connection equal the export's slices"
python3 - "$port" "$WORK" "${media[@]}" <<'PY'
import http.client, random, sys, time
port, work, media = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
exp = {m: open(f"{work}/{m}.iso", "rb").read() for m in media}
rnd = random.Random(8)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
conns = 1
def get(path, hdrs):
    global c, conns
    c.request("GET", path, headers=hdrs)
    r = c.getresponse()
    body = r.read()
    if r.getheader("Connection", "").lower() == "close":
        c.close(); c = http.client.HTTPConnection("127.0.0.1", port, timeout=30); conns += 1
    return r, body
t0, nbytes = time.monotonic(), 0
for i in range(1000):
    m = rnd.choice(media); data = exp[m]; size = len(data)
    kind = rnd.random()
    if kind < 0.05:      # a suffix: the last N bytes
        n = rnd.randint(1, 1 << 20); spec = f"bytes=-{n}"; lo, hi = max(0, size - n), size - 1
    elif kind < 0.10:    # open-ended: from N to the end
        lo = rnd.randrange(size); spec = f"bytes={lo}-"; hi = size - 1
    elif kind < 0.15:    # running past the end: clipped
        lo = rnd.randrange(max(0, size - 4096), size); hi = size - 1; spec = f"bytes={lo}-{size + 100000}"
    else:                # anywhere, 1 byte to 2 MiB, often unaligned
        n = rnd.choice([1, 511, 2048, 4096, 65537, rnd.randint(1, 2 << 20)])
        lo = rnd.randrange(size); hi = min(size - 1, lo + n - 1); spec = f"bytes={lo}-{hi}"
    r, body = get(f"/{m}.iso", {"Range": spec})
    if r.status != 206:
        sys.exit(f"range {i} {spec} of {m}.iso: HTTP {r.status}")
    want_cr = f"bytes {lo}-{hi}/{size}"
    if r.getheader("Content-Range") != want_cr:
        sys.exit(f"range {i} {spec} of {m}.iso: Content-Range {r.getheader('Content-Range')!r}, expected {want_cr!r}")
    if body != data[lo:hi + 1]:
        sys.exit(f"range {i} {spec} of {m}.iso: {len(body)} bytes that differ from the export's slice")
    nbytes += len(body)
el = time.monotonic() - t0
# Edges: past the end, and several ranges in one request.
m = media[0]; size = len(exp[m])
r, body = get(f"/{m}.iso", {"Range": f"bytes={size}-{size + 10}"})
if r.status != 416:
    sys.exit(f"a range past the end: HTTP {r.status}, expected 416")
r, body = get(f"/{m}.iso", {"Range": "bytes=0-99,4096-8191,%d-%d" % (size - 50, size - 1)})
ctype = r.getheader("Content-Type", "")
if r.status != 206 or "multipart/byteranges" not in ctype:
    sys.exit(f"three ranges: HTTP {r.status} {ctype}")
boundary = ctype.split("boundary=")[1].encode()
parts = [p for p in body.split(b"--" + boundary) if p.strip(b"\r\n-")]
got = []
for p in parts:
    head, _, payload = p.partition(b"\r\n\r\n")
    got.append(payload[:-2] if payload.endswith(b"\r\n") else payload)
want = [exp[m][0:100], exp[m][4096:8192], exp[m][size - 50:]]
if got != want:
    sys.exit(f"three ranges: the parts differ from the export ({[len(g) for g in got]})")
print(f"  ... 1000 ranges, {nbytes} bytes, {nbytes / el / 1e6:.0f} MB/s on {conns} connection(s); 416 past the end; multipart right")
PY

check "a download in flight keeps its version while the media changes and gc runs"
curl -sfI "$url/data.iso" | tr -d '\r' >"$WORK/head-data-old.txt" || fail "HEAD data.iso failed"
python3 - "$port" "$WORK/inflight.iso" "$WORK/inflight.ready" "$WORK/inflight.go" <<'PY' &
import http.client, os, sys, time
port, out, ready, go = int(sys.argv[1]), *sys.argv[2:]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
c.request("GET", "/data.iso")
r = c.getresponse()
with open(out, "wb") as o:
    o.write(r.read(1 << 20))
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.05)
    o.write(r.read())
PY
reader=$!
wait_for test -e "$WORK/inflight.ready" || fail "the in-flight download did not start"
randfile "$WORK/d/sources/install.wim" $((20 << 20)) # same size: the same ISO layout
add_content "$store" --kind os-image --name D --id "$idd" "$WORK/d" >/dev/null
tsm "$store" media export data -o "$WORK/data.2.iso"
assert_ne "$(sha "$WORK/data.2.iso")" "$(sha "$WORK/data.iso")" "export after the update"
assert_eq "$(stat -c %s "$WORK/data.2.iso")" "$(stat -c %s "$WORK/data.iso")" "size after a same-size update"
tsm "$store" gc >/dev/null
touch "$WORK/inflight.go"
wait "$reader" || fail "the in-flight download failed"
assert_eq "$(sha "$WORK/inflight.iso")" "$(sha "$WORK/data.iso")" "in-flight download (old version, whole)"
new_served() {
	curl -sf -o "$WORK/got-data2.iso" "$url/data.iso" && [[ $(sha "$WORK/got-data2.iso") == $(sha "$WORK/data.2.iso") ]]
}
wait_for new_served || fail "a new request does not get the new version of data.iso"
note "the old response: the old version whole; a new request: the new version"

# ------------------------------------------------------------------ boots
# boots FIRMWARE TIMEOUT QEMU-ARGS...: the banner on the serial console
# within TIMEOUT seconds.
n=0
boots() {
	local firmware=$1 limit=$2 fw=() banner
	shift 2
	[[ $firmware == ovmf ]] && fw=(-bios /usr/share/ovmf/OVMF.fd)
	[[ $firmware == ovmf ]] && banner="booted under UEFI by GRUB" || banner="booted under BIOS by isolinux"
	n=$((n + 1))
	BOOT_TIMEOUT=$limit expect_boot "$firmware-$n" "$banner" -m 512 "${fw[@]}" "$@"
}
if ((!have_boot)); then
	skip_part "QEMU boots: grub-mkstandalone, mkfs.fat, mcopy or isolinux is missing (tools/setup.sh --for-tests)"
elif ! command -v qemu-system-x86_64 >/dev/null || [[ ! -f /usr/share/ovmf/OVMF.fd ]]; then
	skip_part "QEMU boots: qemu-system-x86 or ovmf is not installed"
else
	check "QEMU boots the ISO through its curl block driver, under SeaBIOS and OVMF"
	if ! compgen -G '/usr/lib/*/qemu/block-curl.so' >/dev/null; then
		skip_part "QEMU's curl block driver is missing (Debian: qemu-block-extra)"
	else
		boots seabios 120 -drive "file=$url/boot.iso,media=cdrom,readonly=on" -boot d
		boots ovmf 180 -drive "file=$url/boot.iso,media=cdrom,readonly=on"
		grep -q '"GET /boot.iso HTTP/1.1" 206 .*"-" "-"$' "$ngx/logs/access.log" ||
			fail "no range request from QEMU in nginx's log"
	fi

	check "QEMU boots the ISO straight from the mount"
	boots seabios 120 -drive "file=$mnt/boot.iso,media=cdrom,readonly=on" -boot d

	check "iPXE sanboots the ISO over HTTP with tools/ipxe/sanboot.ipxe, under SeaBIOS and OVMF"
	if [[ ! -f /usr/lib/ipxe/qemu/pxe-e1000.rom && ! -f /usr/share/qemu/pxe-e1000.rom ]]; then
		skip_part "iPXE sanboot: QEMU's iPXE ROMs are missing (Debian: ipxe-qemu)"
	else
		mkdir -p "$WORK/tftp"
		cp "$root/tools/ipxe/sanboot.ipxe" "$WORK/tftp/"
		# What an admin sets before chaining it: where nginx is (the
		# host's 127.0.0.1 is 10.0.2.2 to a guest on QEMU's user network).
		printf '#!ipxe\nset tsmedia-server 10.0.2.2:%s\nset tsmedia-media boot.iso\nchain sanboot.ipxe\n' \
			"$port" >"$WORK/tftp/boot.ipxe"
		net=(-netdev "user,id=n0,tftp=$WORK/tftp,bootfile=boot.ipxe" -device "e1000,netdev=n0,bootindex=1")
		before=$(grep -c '"GET /boot.iso HTTP/1.1" 206 .*"iPXE/' "$ngx/logs/access.log" || true)
		boots seabios 120 "${net[@]}"
		boots ovmf 180 "${net[@]}"
		after=$(grep -c '"GET /boot.iso HTTP/1.1" 206 .*"iPXE/' "$ngx/logs/access.log" || true)
		((after > before)) || fail "no range request from iPXE in nginx's log"
		note "iPXE read boot.iso in $((after - before)) range requests"
	fi
fi

check "a new version of a media has a new ETag and Last-Modified"
# data.iso changed above with its size kept.  An HTTP cache revalidating
# with If-None-Match / If-Modified-Since, or a client resuming with
# If-Range, must not be told that its old bytes are the new version's.
curl -sfI "$url/data.iso" | tr -d '\r' >"$WORK/head-data-new.txt" || fail "HEAD data.iso failed"
old_etag=$(sed -n 's/^[Ee][Tt]ag: //p' "$WORK/head-data-old.txt")
new_etag=$(sed -n 's/^[Ee][Tt]ag: //p' "$WORK/head-data-new.txt")
old_lm=$(sed -n 's/^[Ll]ast-[Mm]odified: //p' "$WORK/head-data-old.txt")
new_lm=$(sed -n 's/^[Ll]ast-[Mm]odified: //p' "$WORK/head-data-new.txt")
note "before the update: ETag $old_etag, Last-Modified $old_lm; after: ETag $new_etag, Last-Modified $new_lm"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $old_etag" "$url/data.iso")
[[ $code == 200 ]] || fail "GET data.iso with If-None-Match: <the old version's ETag $old_etag> answered $code (expected 200 with the new version): a cache keeps serving the old version (the mount gives a new version of a media the same mtime and size, so nginx's ETag and Last-Modified stay the same)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $old_lm" "$url/data.iso")
[[ $code == 200 ]] || fail "GET data.iso with If-Modified-Since: <the old version's Last-Modified $old_lm> answered $code (expected 200): the new version's mtime is not after the old one's"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-Range: $old_etag" -H "Range: bytes=1048576-2097151" "$url/data.iso")
[[ $code == 200 ]] || fail "a download resumed with If-Range: <the old ETag> got $code (expected 200, the whole new version): it would splice two versions"
assert_ne "$new_etag" "$old_etag" "ETag of data.iso across versions"
pass
