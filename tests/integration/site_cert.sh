#!/usr/bin/env bash
# Sites, management points, root CA trust, and media certificates.
#
# The PKI is made here with the openssl tool (req -x509, x509 -req, ca,
# pkcs12), and what tsmedia writes is read back by the openssl tool: no one
# here wrote either side of those judgments.  Every refused input names what
# is wrong and leaves the catalog exactly as it was.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

S=$WORK/store
init_store "$S"
P=$WORK/pki
mkdir -p "$P"

# ------------------------------------------------------------------ the PKI
pki_init "$P"
ossl() { openssl "$@" 2>>"$WORK/openssl.log" || fail "openssl $* failed: $(tail -5 "$WORK/openssl.log")"; }

make_root_ca() { # NAME CN
	ossl req -x509 -config "$P/openssl.cnf" -extensions v3_ca -newkey rsa:2048 -nodes \
		-keyout "$P/$1.key" -out "$P/$1.pem" -subj "/CN=$2" -days 3650
}
make_root_ca ca1 "Contoso Root CA"
make_root_ca ca2 "Fabrikam Root CA"
# A client certificate issued by ca1 (not a CA; used as the bad root CA and,
# as PKCS#12, as a PKI media certificate).
ossl req -new -config "$P/openssl.cnf" -newkey rsa:2048 -nodes -keyout "$P/client.key" \
	-out "$P/client.csr" -subj "/CN=media.contoso.com"
ossl x509 -req -in "$P/client.csr" -CA "$P/ca1.pem" -CAkey "$P/ca1.key" -CAcreateserial \
	-extfile "$P/openssl.cnf" -extensions v3_client -days 365 -out "$P/client.pem"
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' \
	>"$P/garbage.pem"
cat "$P/ca2.pem" "$P/client.pem" >"$P/mixed.pem" # a CA and a non-CA in one file

fp256() { # FILE.pem: the SHA-256 fingerprint as openssl prints it, lower case, no colons
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}
CA1_SHA=$(fp256 "$P/ca1.pem")
CA2_SHA=$(fp256 "$P/ca2.pem")

J() { "${PYHELP[@]}" get "$1" "$2"; } # J FILE KEY
show_json_site() { tsm "$S" site show "$1" --json >"$WORK/$1.json" || fail "site show $1 --json failed"; }

# ------------------------------------------------------------------ sites
check "a CAS with two primary sites"
tsm "$S" site add --code CAS --type cas --root-ca "$P/ca1.pem" >/dev/null
tsm "$S" site add --code PS1 --type primary --parent CAS --root-ca "$P/ca1.pem" \
	--mp https://mp1.contoso.com --mp http://mp2.contoso.com:8080 \
	--mp HTTPS://mp3.contoso.com/sms >/dev/null
tsm "$S" site add --code ps2 --type PRIMARY --parent cas --root-ca "$P/ca2.pem" \
	--mp http://mp.fabrikam.com >/dev/null

tsm "$S" site list --json >"$WORK/list.json"
assert_eq "$(J "$WORK/list.json" 0.code) $(J "$WORK/list.json" 1.code) $(J "$WORK/list.json" 2.code)" \
	"CAS PS1 PS2" "site list --json codes"
assert_eq "$("${PYHELP[@]}" get "$WORK/list.json" 3 2>/dev/null || echo none)" "none" "only three sites"
tsm "$S" site list >"$WORK/list.txt"
grep -Eq '^PS1 +primary +CAS ' "$WORK/list.txt" || fail "site list text lacks PS1: $(cat "$WORK/list.txt")"

check "site show: type, parent, management points in order, HTTPS detection"
show_json_site PS1
assert_eq "$(J "$WORK/PS1.json" type)" primary "PS1 type"
assert_eq "$(J "$WORK/PS1.json" parent)" CAS "PS1 parent"
assert_eq "$(J "$WORK/PS1.json" management_points.0.url)" https://mp1.contoso.com "MP 1"
assert_eq "$(J "$WORK/PS1.json" management_points.1.url)" http://mp2.contoso.com:8080 "MP 2"
assert_eq "$(J "$WORK/PS1.json" management_points.2.url)" HTTPS://mp3.contoso.com/sms "MP 3"
assert_eq "$(J "$WORK/PS1.json" management_points.0.https) $(J "$WORK/PS1.json" management_points.1.https) $(J "$WORK/PS1.json" management_points.2.https)" \
	"true false true" "HTTPS detection"
assert_eq "$(J "$WORK/PS1.json" root_cas.0.sha256)" "$CA1_SHA" "root CA thumbprint against openssl -fingerprint"
assert_eq "$(J "$WORK/PS1.json" root_cas.0.subject)" "CN=Contoso Root CA" "root CA subject"
show_json_site PS2
assert_eq "$(J "$WORK/PS2.json" https)" false "PS2 has no HTTPS management point"
assert_eq "$(J "$WORK/PS2.json" management_points.0.https)" false "http MP"
show_json_site CAS
assert_eq "$(J "$WORK/CAS.json" type)" cas "CAS type"
assert_eq "$(J "$WORK/CAS.json" parent)" None "CAS has no parent"
assert_eq "$(J "$WORK/CAS.json" primary_sites)" '["PS1", "PS2"]' "CAS primary sites"
tsm "$S" site show PS1 | grep -q 'https://mp1.contoso.com  (HTTPS)' || fail "site show text lacks the HTTPS MP"

check "root CA trust: PS2 trusts only Fabrikam, the others Contoso"
assert_eq "$(J "$WORK/CAS.json" untrusting_primaries)" '["PS2"]' "CAS: who does not trust its root CA"
assert_eq "$(J "$WORK/PS1.json" untrusting_primaries)" '["PS2"]' "PS1: who does not trust its root CA"
assert_eq "$(J "$WORK/PS2.json" untrusting_primaries)" '["PS1"]' "PS2: who does not trust its root CA"
tsm "$S" site show CAS | grep -q 'not trusting its root CAs: PS2' || fail "site show text lacks the untrusting sites"

check "site edit: PS2 also trusts Contoso, then no longer"
tsm "$S" site edit PS2 --add-root-ca "$P/ca1.pem" >/dev/null
show_json_site CAS
assert_eq "$(J "$WORK/CAS.json" untrusting_primaries)" '[]' "all primaries trust the CAS's root CA"
show_json_site PS2
assert_eq "$(J "$WORK/PS2.json" untrusting_primaries)" '[]' "PS1 trusts one of PS2's root CAs"
assert_eq "$(J "$WORK/PS2.json" root_cas.0.sha256) $(J "$WORK/PS2.json" root_cas.1.sha256)" \
	"$CA2_SHA $CA1_SHA" "root CAs in order"
# Named the way openssl prints it: upper case with colons.
tsm "$S" site edit PS2 --rm-root-ca "$(openssl x509 -in "$P/ca1.pem" -noout -fingerprint -sha256 | sed 's/.*=//')" >/dev/null
show_json_site CAS
assert_eq "$(J "$WORK/CAS.json" untrusting_primaries)" '["PS2"]' "PS2 no longer trusts Contoso"

check "site edit: management points removed and added, order kept"
tsm "$S" site edit PS1 --rm-mp http://mp2.contoso.com:8080 --add-mp http://mp4.contoso.com \
	--add-mp https://[2001:db8::10]:8443 >/dev/null
show_json_site PS1
assert_eq "$(J "$WORK/PS1.json" management_points.0.url) $(J "$WORK/PS1.json" management_points.1.url) $(J "$WORK/PS1.json" management_points.2.url) $(J "$WORK/PS1.json" management_points.3.url)" \
	"https://mp1.contoso.com HTTPS://mp3.contoso.com/sms http://mp4.contoso.com https://[2001:db8::10]:8443" \
	"management points after edit"

check "a stand-alone primary site trusts itself only when it has a root CA"
tsm "$S" site add --code SA1 --type primary --mp http://sa1.example.net >/dev/null
show_json_site SA1
assert_eq "$(J "$WORK/SA1.json" untrusting_primaries)" '["SA1"]' "no root CA: trusted by no one"
tsm "$S" site edit SA1 --add-root-ca "$P/ca2.pem" >/dev/null
show_json_site SA1
assert_eq "$(J "$WORK/SA1.json" untrusting_primaries)" '[]' "its own root CA"

# ------------------------------------------------------------------ refused input
# bad_case DESCRIPTION REGEX -- CMD...: fails naming the problem; catalog unchanged.
bad_case() {
	local desc=$1 re=$2 d0
	shift 2
	check "refused: $desc"
	d0=$(catalog_digest "$S")
	expect_fail_with "$re" "$@"
	assert_eq "$(catalog_digest "$S")" "$d0" "catalog changed by a refused command ($desc)"
}
bad_case "bad site code" "invalid site code 'P!1'" -- \
	tsm "$S" site add --code 'P!1' --type primary
bad_case "four-character site code" "invalid site code 'PS12'" -- \
	tsm "$S" site add --code PS12 --type primary
bad_case "reserved site code" "site code 'SMS' is reserved" -- \
	tsm "$S" site add --code SMS --type primary
bad_case "unknown type" "invalid --type 'secondary'" -- \
	tsm "$S" site add --code PS3 --type secondary
bad_case "unknown parent" "parent site XYZ does not exist" -- \
	tsm "$S" site add --code PS3 --type primary --parent XYZ
bad_case "a primary as parent" "parent site PS1 is a primary site" -- \
	tsm "$S" site add --code PS3 --type primary --parent PS1
bad_case "a CAS with a parent" "PS4: a central administration site has no parent" -- \
	tsm "$S" site add --code PS4 --type cas --parent CAS
bad_case "a CAS with a management point" "CA2: a central administration site has no management points" -- \
	tsm "$S" site add --code CA2 --type cas --mp http://mp.contoso.com
bad_case "a site code taken" "site PS1 already exists" -- \
	tsm "$S" site add --code PS1 --type primary
bad_case "a non-CA PEM as root CA" "client.pem: not a CA certificate" -- \
	tsm "$S" site add --code PS3 --type primary --parent CAS --root-ca "$P/client.pem"
bad_case "a bundle with a non-CA certificate" "mixed.pem \(certificate 2\): not a CA certificate" -- \
	tsm "$S" site add --code PS3 --type primary --parent CAS --root-ca "$P/mixed.pem"
bad_case "a garbage PEM as root CA" "garbage.pem: .*cannot be read as an X.509 certificate" -- \
	tsm "$S" site add --code PS3 --type primary --parent CAS --root-ca "$P/garbage.pem"
bad_case "a key file as root CA" "ca1.key holds no PEM certificate" -- \
	tsm "$S" site add --code PS3 --type primary --parent CAS --root-ca "$P/ca1.key"
bad_case "a missing root CA file" "cannot open .*nothere.pem" -- \
	tsm "$S" site add --code PS3 --type primary --parent CAS --root-ca "$P/nothere.pem"
bad_case "a URL with a space" "invalid management point URL 'http://mp contoso.com': it holds a space" -- \
	tsm "$S" site add --code PS3 --type primary --mp http://mp.ok.com --mp 'http://mp contoso.com'
bad_case "a URL without a scheme" "invalid management point URL 'mp.contoso.com': it must start with http:// or https://" -- \
	tsm "$S" site add --code PS3 --type primary --mp mp.contoso.com
bad_case "a URL of another scheme" "invalid management point URL 'ftp://mp.contoso.com'" -- \
	tsm "$S" site add --code PS3 --type primary --mp ftp://mp.contoso.com
bad_case "a URL without a host" "invalid management point URL 'https://:443': it names no host" -- \
	tsm "$S" site add --code PS3 --type primary --mp https://:443
bad_case "a URL with a bad port" "invalid management point URL 'http://mp.contoso.com:0': the port" -- \
	tsm "$S" site add --code PS3 --type primary --mp http://mp.contoso.com:0
bad_case "a management point given twice" "management point HTTP://MP.contoso.com is given twice" -- \
	tsm "$S" site add --code PS3 --type primary --mp http://mp.contoso.com --mp HTTP://MP.contoso.com
bad_case "a root CA given twice" "root CA $CA1_SHA is given twice" -- \
	tsm "$S" site add --code PS3 --type primary --root-ca "$P/ca1.pem" --root-ca "$P/ca1.pem"
bad_case "removing a CAS with primaries" "site CAS is the parent of primary sites PS1, PS2" -- \
	tsm "$S" site rm CAS
bad_case "removing an unknown site" "no site XYZ" -- \
	tsm "$S" site rm XYZ
bad_case "editing in a bad URL" "invalid management point URL 'http://bad host'" -- \
	tsm "$S" site edit PS1 --add-mp http://mp9.contoso.com --add-mp 'http://bad host'
bad_case "removing a management point the site lacks" "site PS1 has no management point http://nope.contoso.com" -- \
	tsm "$S" site edit PS1 --rm-mp http://nope.contoso.com
bad_case "adding a management point the site has" "site PS1 already has management point https://mp1.contoso.com" -- \
	tsm "$S" site edit PS1 --add-mp https://mp1.contoso.com
bad_case "editing in a non-CA root" "client.pem: not a CA certificate" -- \
	tsm "$S" site edit PS1 --add-root-ca "$P/client.pem"
bad_case "removing a root CA the site lacks" "site PS1 has no root CA with SHA-256 $CA2_SHA" -- \
	tsm "$S" site edit PS1 --rm-root-ca "$CA2_SHA"
bad_case "showing an unknown site" "no site XYZ" -- \
	tsm "$S" site show XYZ

check "site rm: primaries, then the CAS"
tsm "$S" site rm PS2 >/dev/null
tsm "$S" site rm ps1 >/dev/null
tsm "$S" site rm CAS >/dev/null
tsm "$S" site rm SA1 >/dev/null
assert_eq "$(tsm "$S" site list --json)" "[]" "no sites left"
assert_eq "$(sqlite3 "file:$S/catalog.db?mode=ro" 'SELECT count(*) FROM site_mps') $(sqlite3 "file:$S/catalog.db?mode=ro" 'SELECT count(*) FROM site_root_cas')" \
	"0 0" "no management points or root CAs left behind"
if grep -aq 'PRIVATE KEY' "$S"/catalog.db*; then fail "a private key reached the catalog"; fi

# ------------------------------------------------------------------ certificates
C=$WORK/cert
mkdir -p "$C"
printf 'media pass phrase\nnot part of it\n' >"$C/pw"
printf 'media pass phrase\n' >"$C/pw.openssl"  # the same password, for openssl's file:
printf 'wrong\n' >"$C/wrong"
: >"$C/empty"

check "cert create: a self-signed media certificate, read back by openssl"
tsm "$S" cert create --out "$C/media.p12" --password-file "$C/pw" --subject "Contoso Media" \
	--valid-from 2025-01-01 --valid-until 2031-12-31T23:59:59Z >"$C/create.out"
assert_eq "$(stat -c %a "$C/media.p12")" 600 "the PKCS#12 file's mode"
openssl pkcs12 -in "$C/media.p12" -passin "file:$C/pw.openssl" -nokeys 2>/dev/null >"$C/media.pem" ||
	fail "openssl cannot open the PKCS#12 file with the password"
openssl x509 -in "$C/media.pem" -noout -dates -subject -nameopt RFC2253 >"$C/x509.txt"
assert_eq "$(grep '^notBefore=' "$C/x509.txt")" "notBefore=Jan  1 00:00:00 2025 GMT" "notBefore per openssl"
assert_eq "$(grep '^notAfter=' "$C/x509.txt")" "notAfter=Dec 31 23:59:59 2031 GMT" "notAfter per openssl"
assert_eq "$(grep '^subject=' "$C/x509.txt")" "subject=CN=Contoso Media" "subject per openssl"
openssl pkcs12 -in "$C/media.p12" -passin "file:$C/pw.openssl" -nocerts -nodes 2>/dev/null |
	grep -q 'BEGIN PRIVATE KEY' || fail "the PKCS#12 holds no private key"
openssl x509 -in "$C/media.pem" -noout -text >"$C/text.txt"
grep -q 'Signature Algorithm: sha256WithRSAEncryption' "$C/text.txt" || fail "not SHA-256 signed"
grep -q 'Public-Key: (2048 bit)' "$C/text.txt" || fail "not a 2048-bit key"
grep -q 'TLS Web Client Authentication' "$C/text.txt" || fail "no client authentication EKU"
openssl verify -CAfile "$C/media.pem" "$C/media.pem" >/dev/null 2>&1 ||
	fail "openssl does not verify the certificate as self-signed"

check "cert check agrees with openssl on dates, subject and thumbprints"
tsm "$S" cert check "$C/media.p12" --password-file "$C/pw" --json >"$C/check.json"
assert_eq "$(J "$C/check.json" subject)" "CN=Contoso Media" "subject"
assert_eq "$(J "$C/check.json" self_signed)" true "self-signed"
assert_eq "$(J "$C/check.json" not_before)" "$(date -u -d "$(sed -n 's/^notBefore=//p' "$C/x509.txt")" +%s)" "not_before"
assert_eq "$(J "$C/check.json" not_after)" "$(date -u -d "$(sed -n 's/^notAfter=//p' "$C/x509.txt")" +%s)" "not_after"
assert_eq "$(J "$C/check.json" valid_until)" "2031-12-31T23:59:59Z" "valid_until"
assert_eq "$(J "$C/check.json" sha256)" "$(fp256 "$C/media.pem")" "SHA-256 thumbprint"
assert_eq "$(J "$C/check.json" sha1)" \
	"$(openssl x509 -in "$C/media.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')" "SHA-1 thumbprint"
tsm "$S" cert check "$C/media.p12" --password-file "$C/pw" >"$C/check.txt"
grep -q '^Self-signed: yes' "$C/check.txt" || fail "cert check text: $(cat "$C/check.txt")"

check "cert check of a PKI certificate exported by openssl pkcs12"
ossl pkcs12 -export -inkey "$P/client.key" -in "$P/client.pem" -certfile "$P/ca1.pem" \
	-passout "file:$C/pw.openssl" -out "$C/pki.p12"
tsm "$S" cert check "$C/pki.p12" --password-file "$C/pw" --json >"$C/pki.json"
assert_eq "$(J "$C/pki.json" self_signed)" false "a CA-issued certificate is not self-signed"
assert_eq "$(J "$C/pki.json" subject)" "CN=media.contoso.com" "PKI subject"
assert_eq "$(J "$C/pki.json" issuer)" "CN=Contoso Root CA" "PKI issuer"
assert_eq "$(J "$C/pki.json" sha256)" "$(fp256 "$P/client.pem")" "PKI SHA-256 thumbprint"

# An expired certificate, dated by openssl ca.
ossl req -new -config "$P/openssl.cnf" -newkey rsa:2048 -nodes -keyout "$P/old.key" \
	-out "$P/old.csr" -subj "/CN=Old Media"
ossl ca -batch -config "$P/openssl.cnf" -cert "$P/ca1.pem" -keyfile "$P/ca1.key" \
	-extensions v3_client -startdate 20200101000000Z -enddate 20210101000000Z \
	-in "$P/old.csr" -out "$P/old.pem"
ossl pkcs12 -export -inkey "$P/old.key" -in "$P/old.pem" -passout "file:$C/pw.openssl" -out "$C/old.p12"
ossl pkcs12 -export -nokeys -in "$P/client.pem" -passout "file:$C/pw.openssl" -out "$C/nokey.p12"
cp "$C/media.p12" "$C/media.p12.orig"

bad_case "cert check with a wrong password" "media.p12: wrong password" -- \
	tsm "$S" cert check "$C/media.p12" --password-file "$C/wrong"
bad_case "cert check with an empty password file" "password file .*empty is empty" -- \
	tsm "$S" cert check "$C/media.p12" --password-file "$C/empty"
bad_case "cert check of an expired certificate" "old.p12: the certificate expired on 2021-01-01T00:00:00Z" -- \
	tsm "$S" cert check "$C/old.p12" --password-file "$C/pw"
bad_case "cert check of a PKCS#12 without a key" "nokey.p12 holds no private key" -- \
	tsm "$S" cert check "$C/nokey.p12" --password-file "$C/pw"
bad_case "cert check of a PEM file" "client.pem is not a PKCS#12" -- \
	tsm "$S" cert check "$P/client.pem" --password-file "$C/pw"
bad_case "cert create with inverted dates" "dates are inverted: valid from 2030-01-01T00:00:00Z must come before valid until 2029-01-01T00:00:00Z" -- \
	tsm "$S" cert create --out "$C/inv.p12" --password-file "$C/pw" --subject x \
	--valid-from 2030-01-01 --valid-until 2029-01-01
bad_case "cert create with an expiry already past" "certificate expiry 2021-06-01T00:00:00Z is already past" -- \
	tsm "$S" cert create --out "$C/past.p12" --password-file "$C/pw" --subject x \
	--valid-from 2020-01-01 --valid-until 2021-06-01
bad_case "cert create with a bad date" "invalid date '2031-02-30'" -- \
	tsm "$S" cert create --out "$C/bad.p12" --password-file "$C/pw" --subject x \
	--valid-from 2025-01-01 --valid-until 2031-02-30
bad_case "cert create with a local time" "invalid date '2031-01-01T10:00:00\+02:00': give the time in UTC" -- \
	tsm "$S" cert create --out "$C/bad.p12" --password-file "$C/pw" --subject x \
	--valid-from 2025-01-01 --valid-until 2031-01-01T10:00:00+02:00
bad_case "cert create over an existing file" "media.p12 already exists" -- \
	tsm "$S" cert create --out "$C/media.p12" --password-file "$C/pw" --subject x \
	--valid-from 2025-01-01 --valid-until 2031-01-01
cmp -s "$C/media.p12" "$C/media.p12.orig" || fail "cert create changed an existing file"
for f in inv past bad; do
	[[ ! -e $C/$f.p12 ]] || fail "a refused cert create left $C/$f.p12"
done
[[ -z $(find "$C" -name '*.tmp.*') ]] || fail "cert create left temporary files"

pass
