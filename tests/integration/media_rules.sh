#!/usr/bin/env bash
# The rules of task sequence media (issue 5, "Rules"): each broken rule makes
# `media create` fail with a message naming what is wrong (the words of
# core/media/rules.c), and leaves the catalog exactly as it was.  Each bad
# command is a command that succeeds (checked first) with one thing changed,
# so the failure is the rule's and nothing else's.  The PKI (root CAs, a
# CA-issued client certificate as PKCS#12) is made with the openssl tool.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FIX=$(dirname "$0")/../../../shared/fixtures/task-sequences
F1=$FIX/console-object_win10-ipu_drfiles_PS10000E.xml
F4=$FIX/sequence_win10-build-capture_cmhub.xml
F6=$FIX/mdt-template_autopilot-existing-devices_drfiles.xml
for f in "$F1" "$F4" "$F6"; do
	[[ -f $f ]] || skip "task sequence fixture missing: $f (../shared/fixtures/task-sequences beside the project)"
done

S=$WORK/store
init_store "$S" --site-code PS1

# ------------------------------------------------------------------ PKI
P=$WORK/pki
mkdir -p "$P"
pki_init "$P"
ossl() { openssl "$@" 2>>"$WORK/openssl.log" || fail "openssl $* failed: $(tail -5 "$WORK/openssl.log")"; }
for ca in "contoso:Contoso Root CA" "fabrikam:Fabrikam Root CA"; do
	ossl req -x509 -config "$P/openssl.cnf" -extensions v3_ca -newkey rsa:2048 -nodes \
		-keyout "$P/${ca%%:*}.key" -out "$P/${ca%%:*}.pem" -subj "/CN=${ca#*:}" -days 3650
done
ossl req -new -config "$P/openssl.cnf" -newkey rsa:2048 -nodes -keyout "$P/client.key" \
	-out "$P/client.csr" -subj "/CN=media.contoso.com"
ossl x509 -req -in "$P/client.csr" -CA "$P/contoso.pem" -CAkey "$P/contoso.key" -CAcreateserial \
	-extfile "$P/openssl.cnf" -extensions v3_client -days 365 -out "$P/client.pem"
printf 'pkcs12 pass\n' >"$P/p12pw"
printf 'not it\n' >"$P/wrong"
ossl pkcs12 -export -inkey "$P/client.key" -in "$P/client.pem" -certfile "$P/contoso.pem" \
	-passout "file:$P/p12pw" -out "$P/pki.p12"
# A CA-issued certificate that expired in 2021 (dated by openssl ca), and a PKCS#12 without a key.
ossl req -new -config "$P/openssl.cnf" -newkey rsa:2048 -nodes -keyout "$P/old.key" \
	-out "$P/old.csr" -subj "/CN=Old Media"
ossl ca -batch -config "$P/openssl.cnf" -cert "$P/contoso.pem" -keyfile "$P/contoso.key" \
	-extensions v3_client -startdate 20200101000000Z -enddate 20210101000000Z \
	-in "$P/old.csr" -out "$P/old.pem"
ossl pkcs12 -export -inkey "$P/old.key" -in "$P/old.pem" -passout "file:$P/p12pw" -out "$P/old.p12"
ossl pkcs12 -export -nokeys -in "$P/client.pem" -passout "file:$P/p12pw" -out "$P/nokey.p12"
# Strong enough for the media password check (issue 13): one GPU needs more than a year.
printf 'media password: larch quartz fennel\n' >"$WORK/pw"

# ------------------------------------------------------------------ sites
# CAS and PS1 trust Contoso; PS2 trusts only Fabrikam.
tsm "$S" site add --code CAS --type cas --root-ca "$P/contoso.pem" >/dev/null
# The values only a site knows, which its bootable and prestaged media carry (issue 13).
SITEVALUES=(--http-port 80 --https-port 443 --iis-ssl-state 448 --signing-certificate 3082ABCD
	--x64-unknown-guid a1b2c3d4-0000-4000-8000-000000000064
	--x86-unknown-guid a1b2c3d4-0000-4000-8000-000000000086)
tsm "$S" site add --code PS1 --type primary --parent CAS --root-ca "$P/contoso.pem" \
	--mp https://mp1.contoso.com --mp http://mp2.contoso.com "${SITEVALUES[@]}" >/dev/null
tsm "$S" site add --code PS2 --type primary --parent CAS --root-ca "$P/fabrikam.pem" \
	--mp http://mp.fabrikam.com "${SITEVALUES[@]}" >/dev/null

# ------------------------------------------------------------------ content
mkdir -p "$WORK/boot/boot" "$WORK/os"
randfile "$WORK/boot/boot/etfsboot.com" 4096
randfile "$WORK/boot/sources.wim" 100000
BOOT=$(add_content "$S" --kind boot-image --name "boot image" "$WORK/boot")
randfile "$WORK/os/install.wim" 50000
OS=$(add_content "$S" --kind os-image --name "os image" "$WORK/os")
pkg() { # ID: a small package under that ID
	mkdir -p "$WORK/pkg/$1"
	randfile "$WORK/pkg/$1/file.bin" 3000
	assert_eq "$(add_content "$S" --kind package --name "pkg $1" --id "$1" "$WORK/pkg/$1")" "$1" "content add --id $1"
}
pkg SCB00026 # only one of the three fixture 4 references
TS4=$(tsm "$S" ts import --name "Build and Capture" --boot-image "$BOOT" "$F4")
TS1=$(tsm "$S" ts import --boot-image "$BOOT" "$F1")
TS6_NOBOOT=$(tsm "$S" ts import --name "AutoPilot, no boot image" "$F6")
TS6=$(tsm "$S" ts import --name "AutoPilot" --id PS1000A6 --boot-image "$BOOT" "$F6")

# ------------------------------------------------------------------ helpers
# bad_case DESCRIPTION REGEX -- CMD...: fails naming the problem; catalog unchanged.
bad_case() {
	local desc=$1 re=$2 d0
	shift 2
	check "refused: $desc"
	d0=$(catalog_digest "$S")
	expect_fail_with "$re" "$@"
	assert_eq "$(catalog_digest "$S")" "$d0" "catalog changed by a refused command ($desc)"
	if grep -q 'created media' "$LAST_STDOUT"; then fail "a refused create said it created: $(cat "$LAST_STDOUT")"; fi
}
# good_case DESCRIPTION CMD...: must succeed (the base a bad case changes one thing of).
good_case() {
	local desc=$1 rc=0
	shift
	check "accepted: $desc"
	"$@" >"$WORK/.good.out" 2>"$WORK/.good.err" || rc=$?
	((rc == 0)) || fail "$desc: exit $rc: $*: $(cat "$WORK/.good.err")"
}
mc() { tsm "$S" media create "$@"; }
# Bases, each valid on its own.
BOOTABLE_HTTP=(--type bootable --boot-image "$BOOT" --site PS1 --management-point http://mp2.contoso.com --no-password)
BOOTABLE_PKI=(--type bootable --boot-image "$BOOT" --certificate "$P/pki.p12" --certificate-password-file "$P/p12pw" --no-password)
STANDALONE=(--type standalone --task-sequence "$TS6" --no-password)
CAPTURE=(--type capture --boot-image "$BOOT")
PRESTAGED=(--type prestaged --boot-image "$BOOT" --os-image "$OS" --site PS1 --management-point http://mp2.contoso.com --no-password)

good_case "bootable, HTTP, self-signed certificate" mc --name ok1 "${BOOTABLE_HTTP[@]}" --self-signed-certificate \
	--certificate-valid-from 2025-01-01 --certificate-valid-until 2035-01-01
good_case "bootable, HTTPS, PKI certificate, site-based, one MP" mc --name ok2 "${BOOTABLE_PKI[@]}" --site PS1 \
	--mode site-based --management-point https://mp1.contoso.com
good_case "stand-alone from the MDT template" mc --name ok3 "${STANDALONE[@]}"
good_case "capture" mc --name ok4 "${CAPTURE[@]}"
good_case "prestaged with text fields at their limits (50/32/127)" mc --name ok5 "${PRESTAGED[@]}" \
	--created-by "$(printf 'c%.0s' {1..50})" --version "$(printf 'v%.0s' {1..32})" --comment "$(printf 'x%.0s' {1..127})"

# ------------------------------------------------------------------ sites, MPs, certificates
bad_case "HTTPS management point with a self-signed certificate" \
	"HTTPS management points need a PKI certificate: --certificate FILE.p12" -- \
	mc --name r1 --type bootable --boot-image "$BOOT" --site PS1 --mode site-based \
	--management-point https://mp1.contoso.com --self-signed-certificate --no-password
bad_case "HTTPS management point without any certificate" \
	"HTTPS management points need a PKI certificate" -- \
	mc --name r1 --type bootable --boot-image "$BOOT" --site PS1 --mode site-based \
	--management-point https://mp1.contoso.com --no-password
bad_case "bootable media with HTTPS for the central administration site" \
	"media for HTTPS site systems is created for a primary site, not the central administration site CAS" -- \
	mc --name r2 "${BOOTABLE_PKI[@]}" --site CAS --mode site-based --management-point https://mp1.contoso.com
bad_case "prestaged media with HTTPS for the central administration site" \
	"created for a primary site, not the central administration site CAS" -- \
	mc --name r2 --type prestaged --boot-image "$BOOT" --os-image "$OS" --certificate "$P/pki.p12" \
	--certificate-password-file "$P/p12pw" --no-password --site CAS --mode site-based \
	--management-point https://mp1.contoso.com
bad_case "dynamic media when a primary (PS2) does not trust the creating site's root CA" \
	"dynamic media needs every primary site to trust site PS1's root CA; PS2 do\(es\) not: add the CA to them, or use --mode site-based" -- \
	mc --name r3 "${BOOTABLE_PKI[@]}" --site PS1 --mode dynamic --management-point https://mp1.contoso.com
if grep -q 'PS1 do' "$LAST_STDERR"; then fail "PS1 trusts its own root CA, but is named: $(cat "$LAST_STDERR")"; fi
bad_case "site-based media with two management points" \
	"site-based media names exactly one management point; 2 given" -- \
	mc --name r4 "${BOOTABLE_HTTP[@]}" --mode site-based --management-point http://mp3.contoso.com
bad_case "self-signed certificate dates inverted" \
	"the certificate's dates are inverted: --certificate-valid-from is not before --certificate-valid-until" -- \
	mc --name r5 "${BOOTABLE_HTTP[@]}" --self-signed-certificate \
	--certificate-valid-from 2030-01-01 --certificate-valid-until 2029-01-01
bad_case "self-signed certificate already expired" \
	"the certificate would already be expired \(--certificate-valid-until is past\)" -- \
	mc --name r5 "${BOOTABLE_HTTP[@]}" --self-signed-certificate \
	--certificate-valid-from 2020-01-01 --certificate-valid-until 2021-01-01
bad_case "a PKCS#12 with a wrong password" "pki\.p12: wrong password" -- \
	mc --name r6 --type bootable --boot-image "$BOOT" --certificate "$P/pki.p12" \
	--certificate-password-file "$P/wrong" --no-password --site PS1 --mode site-based \
	--management-point https://mp1.contoso.com
bad_case "an imported PKCS#12 whose certificate expired" "old\.p12: the certificate expired on 2021-01-01" -- \
	mc --name r6 --type bootable --boot-image "$BOOT" --certificate "$P/old.p12" \
	--certificate-password-file "$P/p12pw" --no-password --site PS1 --mode site-based \
	--management-point https://mp1.contoso.com
bad_case "an imported PKCS#12 without a private key" "nokey\.p12 holds no private key" -- \
	mc --name r6 --type bootable --boot-image "$BOOT" --certificate "$P/nokey.p12" \
	--certificate-password-file "$P/p12pw" --no-password --site PS1 --mode site-based \
	--management-point https://mp1.contoso.com
[[ -z $(find "$S" -name '*.p12*') ]] || fail "a PKCS#12 file was left in the store"

# ------------------------------------------------------------------ task sequences
bad_case "stand-alone media whose task sequence has no boot image" \
	"task sequence $TS6_NOBOOT has no boot image: stand-alone media needs one" -- \
	mc --name r7 --type standalone --task-sequence "$TS6_NOBOOT" --no-password
bad_case "content the task sequence references but the store lacks (every ID listed)" \
	"task sequence $TS4 references content the store lacks: .*SCB000(21|03)" -- \
	mc --name r8 --type standalone --task-sequence "$TS4" --no-password
line=$(grep 'references content the store lacks' "$LAST_STDERR")
for id in SCB00021 SCB00003; do
	[[ $line == *"$id"* ]] || fail "the missing $id is not named: $line"
done
if [[ $line == *SCB00026* ]]; then fail "SCB00026 is in the store but named missing: $line"; fi
bad_case "content a console export references but the store lacks (every ID listed)" \
	"task sequence PS10000E references content the store lacks: PS10005C, PS100241, PS10024D" -- \
	mc --name r8 --type standalone --task-sequence "$TS1" --no-password

pkg SCB00021
pkg SCB00003
pkg PS10005C
pkg PS100241
pkg PS10024D
# blockers_named TSID: every stand-alone blocker `ts show --json` lists is named as a step.
blockers_named() {
	tsm "$S" ts show "$1" --json >"$WORK/$1.json"
	python3 - "$WORK/$1.json" "$LAST_STDERR" <<'EOF' || fail "not every step stand-alone media cannot run is named"
import json, sys
blockers = json.load(open(sys.argv[1]))['standalone_blockers']
err = open(sys.argv[2]).read()
if not blockers:
    sys.exit('ts show lists no stand-alone blockers')
for b in blockers:
    if f"step '{b}' needs a site and cannot run from stand-alone media" not in err:
        sys.exit(f'step {b!r} is not named in: {err}')
print(f'  ... {len(blockers)} step(s) named')
EOF
}
# Fixture 4's Apply Device Drivers has the condition _SMSTSMediaType notEquals FullMedia: it
# does not run from stand-alone media, so it does not keep them from being made (issue 16).
good_case "stand-alone media of fixture 4, whose only site-bound step is kept off it by its condition" \
	mc --name ok6 --type standalone --task-sequence "$TS4" --no-password
bad_case "steps stand-alone media cannot run (fixture 1: Download Package Content, updates, dynamic apps)" \
	"step '[^']*Download Drivers/Dell Latitude E7270[^']*' needs a site" -- \
	mc --name r9 --type standalone --task-sequence "$TS1" --no-password
blockers_named "$TS1"
grep -q "Install Updates" "$LAST_STDERR" || fail "the software updates step is not named: $(cat "$LAST_STDERR")"

# ------------------------------------------------------------------ options of another type
bad_case "a self-signed certificate on stand-alone media" \
	"--site, --management-point, --mode and certificates belong to bootable and prestaged media, which reach a site; standalone media does not" -- \
	mc --name r10 "${STANDALONE[@]}" --self-signed-certificate
bad_case "a PKCS#12 certificate on stand-alone media" \
	"certificates belong to bootable and prestaged media" -- \
	mc --name r10 "${STANDALONE[@]}" --certificate "$P/pki.p12" --certificate-password-file "$P/p12pw"
bad_case "--site on stand-alone media" \
	"--site, --management-point, --mode and certificates belong to bootable and prestaged media" -- \
	mc --name r10 "${STANDALONE[@]}" --site PS1
bad_case "--management-point on stand-alone media" \
	"--site, --management-point, --mode and certificates belong to bootable and prestaged media" -- \
	mc --name r10 "${STANDALONE[@]}" --management-point http://mp2.contoso.com
bad_case "a password on capture media" \
	"capture media has no password: leave out --password-file/--no-password" -- \
	mc --name r11 "${CAPTURE[@]}" --password-file "$WORK/pw"
bad_case "--no-password on capture media" \
	"capture media has no password" -- \
	mc --name r11 "${CAPTURE[@]}" --no-password
bad_case "--os-image on bootable media" \
	"--os-image, --created-by, --version and --comment belong to prestaged media" -- \
	mc --name r12 "${BOOTABLE_HTTP[@]}" --os-image "$OS"
bad_case "--task-sequence on bootable media" \
	"bootable media carries no task sequence and no packages" -- \
	mc --name r12 "${BOOTABLE_HTTP[@]}" --task-sequence "$TS6"
bad_case "--valid-until on bootable media" \
	"--valid-from/--valid-until belong to stand-alone media" -- \
	mc --name r12 "${BOOTABLE_HTTP[@]}" --valid-until 2030-01-01
bad_case "variables on capture media" \
	"capture media takes no variables" -- \
	mc --name r12 "${CAPTURE[@]}" --variable A=B

# ------------------------------------------------------------------ prestaged text limits
bad_case "prestaged --created-by of 51 characters" "--created-by is 51 characters; at most 50" -- \
	mc --name r13 "${PRESTAGED[@]}" --created-by "$(printf 'c%.0s' {1..51})"
bad_case "prestaged --version of 33 characters" "--version is 33 characters; at most 32" -- \
	mc --name r13 "${PRESTAGED[@]}" --version "$(printf 'v%.0s' {1..33})"
bad_case "prestaged --comment of 128 characters" "--comment is 128 characters; at most 127" -- \
	mc --name r13 "${PRESTAGED[@]}" --comment "$(printf 'x%.0s' {1..128})"
bad_case "prestaged, all three over their limits: each is named" "--created-by is 60 characters" -- \
	mc --name r13 "${PRESTAGED[@]}" --created-by "$(printf 'c%.0s' {1..60})" \
	--version "$(printf 'v%.0s' {1..40})" --comment "$(printf 'x%.0s' {1..200})"
grep -q -- '--version is 40 characters; at most 32' "$LAST_STDERR" || fail "--version not named with the others"
grep -q -- '--comment is 200 characters; at most 127' "$LAST_STDERR" || fail "--comment not named with the others"

# ------------------------------------------------------------------ passwords
bad_case "bootable media with neither --password-file nor --no-password" \
	"say how the media is protected: --password-file FILE, or --no-password" -- \
	mc --name r14 --type bootable --boot-image "$BOOT" --site PS1 --management-point http://mp2.contoso.com
bad_case "stand-alone media with neither --password-file nor --no-password" \
	"say how the media is protected" -- \
	mc --name r14 --type standalone --task-sequence "$TS6"
bad_case "bootable media with both --password-file and --no-password" \
	"--password-file and --no-password contradict each other" -- \
	mc --name r14 "${BOOTABLE_HTTP[@]}" --password-file "$WORK/pw"

# ------------------------------------------------------------------ in use
bad_case "removing a task sequence a media carries" "task sequence $TS6 is used by media ok3" -- \
	tsm "$S" ts rm "$TS6"
bad_case "removing a site a media is made for" "site PS1 is used by media ok1, ok2, ok5" -- \
	tsm "$S" site rm PS1
bad_case "removing the boot image media use" "content $BOOT is used by media" -- \
	tsm "$S" content rm "$BOOT"

check "what the refused commands would have made is not there"
tsm "$S" media list --json >"$WORK/list.json"
assert_eq "$(python3 -c 'import json,sys; print(" ".join(sorted(m["name"] for m in json.load(open(sys.argv[1])))))' "$WORK/list.json")" \
	"ok1 ok2 ok3 ok4 ok5 ok6" "media after the refused commands"
pass
