#!/usr/bin/env bash
# Korean messages (issue 20):
#   - one error of each command group (init, content, ts, app, site, media, mkiso,
#     capture, mount and tsmediafs) comes out under LANG=ko_KR.UTF-8 as the
#     msgstr po/ko.po gives its msgid, and under LANG=C as the English msgid,
#     with the same values in the %-directives both times;
#   - msgfmt --check --statistics po/ko.po: every message translated, none fuzzy;
#   - the .pot made again from the sources (po/POTFILES, with the keywords of
#     po/meson.build) has no msgid that ko.po lacks, and every source file
#     with a message is in po/POTFILES: a new message without its Korean
#     translation fails here.
#   - the help of tsmedia, of a command group, of a command and of tsmediafs
#     is, under ko_KR.UTF-8, exactly ko.po's translation of what LANG=C prints
#     (and that is the English source text, a msgid), with every option name
#     of the English help still in it; every other command's help is in
#     Korean too, with the same option names;
#   - media show, content list and stats print their Korean labels (the same
#     values as under LANG=C), and --json is byte for byte the same in both.
#   - ko.po holds no msgid that the sources no longer print;
#   - ts show of a task sequence with steps stand-alone media cannot run prints
#     them under ko_KR.UTF-8 with their words translated (", a dynamic install
#     list"), and --json keeps the English, the same bytes in both languages.
# The catalogue of the build tree is found through TEXTDOMAINDIR (meson sets it
# to build/po; tsm_i18n_init() prefers it to the installed locale dir).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$TESTS_DIR/../.." && pwd)
PO=$ROOT/po
export TEXTDOMAINDIR=${TEXTDOMAINDIR:-$ROOT/build/po}
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
for t in msgfmt xgettext msgcmp; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: gettext)"
done
[[ -f $TEXTDOMAINDIR/ko/LC_MESSAGES/tsmedia.mo ]] ||
	fail "no catalogue at $TEXTDOMAINDIR/ko/LC_MESSAGES/tsmedia.mo (meson builds it from po/ko.po)"

check "msgfmt --check: ko.po is well-formed and every format directive matches its msgid"
stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$PO/ko.po" 2>&1) ||
	fail "msgfmt --check po/ko.po: $stats"
note "$stats"
[[ $stats =~ ^([0-9]+)\ translated\ messages\.$ ]] ||
	fail "po/ko.po has untranslated or fuzzy messages: $stats"
assert_ge "${BASH_REMATCH[1]}" 600 "translated messages in po/ko.po"

check "every source file with a message is in po/POTFILES"
# The keywords come from po/meson.build, so this test and the build agree.
mapfile -t keywords < <(grep -o "'--keyword=[^']*'" "$PO/meson.build" | tr -d "'")
((${#keywords[@]} >= 5)) || fail "no --keyword= arguments found in po/meson.build"
names=$(printf '%s\n' "${keywords[@]}" | sed 's/^--keyword=//; s/:.*//' | paste -sd'|')
(cd "$ROOT" && grep -rlE "(^|[^A-Za-z0-9_])($names)\(\"" core tools fs --include=*.c | sort) >"$WORK/with_messages"
sort "$PO/POTFILES" >"$WORK/potfiles"
missing=$(comm -23 "$WORK/with_messages" "$WORK/potfiles")
[[ -z $missing ]] || fail "files with messages missing from po/POTFILES: $missing"

check "the .pot made from the sources has no msgid that ko.po lacks"
(cd "$ROOT" && xgettext --from-code=UTF-8 "${keywords[@]}" -o "$WORK/tsmedia.pot" -f po/POTFILES)
pot_n=$(grep -c '^msgid ' "$WORK/tsmedia.pot")
assert_ge "$pot_n" 600 "msgids xgettext finds"
msgcmp "$PO/ko.po" "$WORK/tsmedia.pot" 2>"$WORK/msgcmp.err" ||
	fail "messages with no Korean translation (add them to po/ko.po): $(head -c 2000 "$WORK/msgcmp.err")"

check "ko.po has no msgid the sources no longer use"
# The .pot as the reference of msgcmp the other way round: every msgid of
# ko.po must be one the sources print.
msgcmp --use-untranslated "$WORK/tsmedia.pot" "$PO/ko.po" 2>"$WORK/unused.err" ||
	fail "po/ko.po holds messages no source uses (remove them): $(head -c 2000 "$WORK/unused.err")"

if ! locale -a 2>/dev/null | grep -qix 'ko_KR\.utf-\?8'; then
	skip "the ko_KR.UTF-8 locale is not installed (tools/setup.sh --for-tests makes it: locales, /etc/locale.gen, locale-gen); the catalogue checks above passed"
fi

# msgstr ID: the Korean text po/ko.po gives the msgid (C escapes as in the PO).
msgstr() {
	python3 - "$PO/ko.po" "$1" <<'PY'
import re, sys
text = open(sys.argv[1], encoding='utf-8').read()
for m in re.finditer(r'(?m)^msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', text):
    join = lambda b: ''.join(re.findall(r'^"(.*)"$', b, re.M))
    if join(m.group(1)) == sys.argv[2]:
        print(join(m.group(2)))
        sys.exit(0)
sys.exit("no msgid %r in ko.po" % sys.argv[2])
PY
}

# match FORMAT LINE: the values LINE holds for FORMAT's directives, one a
# line; fails when LINE is not FORMAT with some values in its directives.
match() {
	python3 - "$1" "$2" <<'PY'
import re, sys
fmt, line = sys.argv[1], sys.argv[2]
fmt = fmt.encode().decode('unicode_escape').encode('latin-1').decode('utf-8')
rx, pos = '', 0
for d in re.finditer(r'%(?:%|[-+ #0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfgGcsp])', fmt):
    rx += re.escape(fmt[pos:d.start()])
    rx += '%' if d.group() == '%%' else '(.*?)'
    pos = d.end()
rx += re.escape(fmt[pos:])
m = re.fullmatch(rx, line)
if not m:
    sys.exit("%r is not the message %r" % (line, fmt))
print('\n'.join(m.groups()))
PY
}

store=$WORK/store
LC_ALL=C "$TSMEDIA" --store "$store" init >/dev/null 2>&1 || fail "tsmedia init $store failed"
err_ko=$(msgstr "error: ")
assert_ne "$err_ko" "error: " "the Korean 'error: '"

# one PROGRAM MSGID ARGS...: PROGRAM ARGS fails with MSGID's error in English
# under LANG=C and with its msgstr under ko_KR.UTF-8, the same values in both.
one() {
	local prog=$1 id=$2 name ko en_out ko_out en_vals ko_vals
	shift 2
	name=$(basename "$prog")
	ko=$(msgstr "$id")
	assert_ne "$ko" "$id" "the msgstr of '$id'"
	en_out=$(env -u LANGUAGE -u LC_MESSAGES LC_ALL=C LANG=C "$prog" "$@" 2>&1 >/dev/null) &&
		fail "$name $*: succeeded, an error was expected"
	ko_out=$(env -u LANGUAGE -u LC_MESSAGES -u LC_ALL LANG=ko_KR.UTF-8 "$prog" "$@" 2>&1 >/dev/null) &&
		fail "$name $*: succeeded under ko_KR.UTF-8, an error was expected"
	en_vals=$(match "$name: error: $id" "$(head -n1 <<<"$en_out")") || fail "LANG=C $name $*: $en_vals"
	ko_vals=$(match "$name: $err_ko$ko" "$(head -n1 <<<"$ko_out")") || fail "ko_KR.UTF-8 $name $*: $ko_vals"
	assert_eq "$ko_vals" "$en_vals" "the values in '$id' in both languages"
	note "$(head -n1 <<<"$ko_out")"
}

check "one error of each command group, in Korean and in English"
one "$TSMEDIA" "invalid site code '%s': three characters, A-Z or 0-9" \
	--store "$WORK/store2" init --site-code XYZ1
[[ ! -e $WORK/store2/catalog.db ]] || fail "init with a bad site code made a store"
one "$TSMEDIA" "invalid content ID '%s'" --store "$store" content show ZZZZ
one "$TSMEDIA" "no task sequence %s in %s" --store "$store" ts show XYZ00009
one "$TSMEDIA" "no application %s in %s" --store "$store" app show \
	ScopeId_0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9/Application_11111111-2222-3333-4444-555555555555
one "$TSMEDIA" "no site %s in %s" --store "$store" site show QQQ
one "$TSMEDIA" "no media '%s' in %s" --store "$store" media show nosuch
one "$TSMEDIA" "-o OUT is required" --store "$store" mkiso "$WORK"
one "$TSMEDIA" "--name is required" --store "$store" capture "$WORK"
one "$TSMEDIA" "expected a MOUNTPOINT" --store "$store" mount
if [[ -x $TSMEDIAFS ]]; then
	one "$TSMEDIAFS" "no MOUNTPOINT given" -o "store=$store"
else
	skip_part "tsmediafs (not built: libfuse3-dev)"
fi

check "the usage hint after an error is translated too"
out=$(LANG=ko_KR.UTF-8 "$TSMEDIA" --store "$store" mkiso "$WORK" 2>&1 >/dev/null) && fail "mkiso without -o succeeded"
hint=$(msgstr "Try 'tsmedia %s--help'.\\n")
want=$(match "${hint%\\n}" "$(sed -n 2p <<<"$out")") || fail "the hint of mkiso is not the Korean one: $want"
assert_eq "$want" "mkiso " "the command in the hint"

# translation FILE: the msgstr po/ko.po gives the msgid that is the whole text
# of FILE, both as the program prints them (unescaped).
translation() {
	python3 - "$PO/ko.po" "$1" <<'PY'
import re, sys
text = open(sys.argv[1], encoding='utf-8').read()
want = open(sys.argv[2], encoding='utf-8').read()
unescape = lambda s: re.sub(r'\\(.)', lambda m: {'n': '\n', 't': '\t'}.get(m.group(1), m.group(1)), s)
join = lambda b: unescape(''.join(re.findall(r'^"(.*)"$', b, re.M)))
for m in re.finditer(r'(?m)^msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', text):
    if join(m.group(1)) == want:
        sys.stdout.write(join(m.group(2)))
        sys.exit(0)
sys.exit("no msgid of ko.po is the text of %s" % sys.argv[2])
PY
}

# help_in_both NAME KOREAN PROGRAM ARGS...: PROGRAM ARGS --help prints under
# LANG=C a msgid of ko.po (the English source text) and under ko_KR.UTF-8
# exactly its msgstr, which holds the string KOREAN and every option name of
# the English.
help_in_both() {
	local name=$1 korean=$2 prog=$3 d
	shift 3
	env -u LANGUAGE -u LC_MESSAGES LC_ALL=C LANG=C "$prog" "$@" --help >"$WORK/$name.en" ||
		fail "LANG=C $(basename "$prog") $* --help failed"
	env -u LANGUAGE -u LC_MESSAGES -u LC_ALL LANG=ko_KR.UTF-8 "$prog" "$@" --help >"$WORK/$name.ko" ||
		fail "ko_KR.UTF-8 $(basename "$prog") $* --help failed"
	translation "$WORK/$name.en" >"$WORK/$name.want" ||
		fail "LANG=C $(basename "$prog") $* --help is not the English text of a msgid in ko.po"
	d=$(diff -u "$WORK/$name.want" "$WORK/$name.ko" | head -n 20) ||
		fail "$(basename "$prog") $* --help under ko_KR.UTF-8 is not ko.po's translation: $d"
	! cmp -s "$WORK/$name.en" "$WORK/$name.ko" || fail "$(basename "$prog") $* --help is the same in both languages"
	grep -qF -- "$korean" "$WORK/$name.ko" || fail "$(basename "$prog") $* --help under ko_KR.UTF-8 lacks '$korean'"
	{ grep -oE -- '(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*' "$WORK/$name.en" || true; } |
		sed -E 's/^[^-]+//' | sort -u >"$WORK/$name.en.opts"
	{ grep -oE -- '(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*' "$WORK/$name.ko" || true; } |
		sed -E 's/^[^-]+//' | sort -u >"$WORK/$name.ko.opts"
	(($(wc -l <"$WORK/$name.en.opts") >= 2)) || fail "found no options in $(basename "$prog") $* --help"
	d=$(comm -23 "$WORK/$name.en.opts" "$WORK/$name.ko.opts" | tr '\n' ' ')
	[[ -z $d ]] || fail "$(basename "$prog") $* --help under ko_KR.UTF-8 lost the options: $d"
	note "$(basename "$prog") $*: $(head -n1 "$WORK/$name.ko"), $(wc -l <"$WORK/$name.en.opts") options kept"
}

check "--help in Korean: tsmedia, a command group, a command, tsmediafs"
help_in_both top "명령:" "$TSMEDIA"
grep -q '^Commands:$' "$WORK/top.en" || fail "LANG=C tsmedia --help has no 'Commands:' line"
help_in_both media "미디어를 정의합니다" "$TSMEDIA" media
help_in_both content_add "콘텐츠 ID를 출력합니다" "$TSMEDIA" content add
if [[ -x $TSMEDIAFS ]]; then
	help_in_both tsmediafs "읽기 전용 파일로 제공합니다" "$TSMEDIAFS"
else
	skip_part "tsmediafs --help (not built: libfuse3-dev)"
fi

check "every command's --help is in Korean, with the options of the English"
# The commands and groups of tsmedia --help, and each group's subcommands.
n=0
while read -r cmd; do
	args_list=("$cmd")
	if LC_ALL=C "$TSMEDIA" "$cmd" --help | grep -q '^Usage: tsmedia .* COMMAND \[ARGS\]$'; then
		while read -r sub; do
			args_list+=("$cmd $sub")
		done < <(LC_ALL=C "$TSMEDIA" "$cmd" --help | sed -nE 's/^  ([a-z]+)( .*|$)/\1/p')
	fi
	for args in "${args_list[@]}"; do
		# shellcheck disable=SC2086
		env -u LANGUAGE -u LC_MESSAGES LC_ALL=C LANG=C "$TSMEDIA" $args --help >"$WORK/all.en" ||
			fail "LANG=C tsmedia $args --help failed"
		# shellcheck disable=SC2086
		env -u LANGUAGE -u LC_MESSAGES -u LC_ALL LANG=ko_KR.UTF-8 "$TSMEDIA" $args --help >"$WORK/all.ko" ||
			fail "ko_KR.UTF-8 tsmedia $args --help failed"
		# Translated: not the English, and not ASCII only (Hangul is not).
		! cmp -s "$WORK/all.en" "$WORK/all.ko" || fail "tsmedia $args --help is the same in both languages"
		LC_ALL=C grep -q "$(printf '[\200-\377]')" "$WORK/all.ko" ||
			fail "tsmedia $args --help under ko_KR.UTF-8 is ASCII only: not translated"
		for l in en ko; do
			{ grep -oE -- '(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*' "$WORK/all.$l" || true; } |
				sed -E 's/^[^-]+//' | sort -u >"$WORK/all.$l.opts"
		done
		d=$(comm -3 "$WORK/all.en.opts" "$WORK/all.ko.opts" | tr -d '\t' | tr '\n' ' ')
		[[ -z $d ]] || fail "tsmedia $args --help: options only in one language: $d"
		n=$((n + 1))
	done
done < <(LC_ALL=C "$TSMEDIA" --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+)( .*|$)/\1/p')
assert_ge "$n" 40 "commands whose help was compared"
note "$n help texts in Korean, each with the options of the English"

check "media show, content list and stats in Korean; --json the same in both languages"
mkdir -p "$WORK/src"
echo one >"$WORK/src/f"
id=$(add_content "$store" --kind package --name P "$WORK/src")
tsm "$store" media create --type data --name kodata --content "$id" >/dev/null 2>&1 ||
	fail "media create kodata failed"
# both ARGS...: tsmedia ARGS on the store, under LANG=C and ko_KR.UTF-8,
# into $WORK/out.en and $WORK/out.ko.
both() {
	env -u LANGUAGE -u LC_MESSAGES LC_ALL=C LANG=C "$TSMEDIA" --store "$store" "$@" >"$WORK/out.en" ||
		fail "LANG=C tsmedia $* failed"
	env -u LANGUAGE -u LC_MESSAGES -u LC_ALL LANG=ko_KR.UTF-8 "$TSMEDIA" --store "$store" "$@" >"$WORK/out.ko" ||
		fail "ko_KR.UTF-8 tsmedia $* failed"
}
show_fmt='Name:      %s\nType:      %s\nVersion:   %lld\nLabel:     %s'
both media show kodata
en_vals=$(match "$show_fmt" "$(head -n4 "$WORK/out.en")") || fail "LANG=C media show: $en_vals"
ko_fmt=$(msgstr "$show_fmt\n")
ko_vals=$(match "${ko_fmt%\\n}" "$(head -n4 "$WORK/out.ko")") || fail "ko_KR.UTF-8 media show: $ko_vals"
assert_eq "$ko_vals" "$en_vals" "the values media show prints in both languages"
assert_eq "$(head -n1 "$WORK/out.ko")" "이름:      kodata" "the first line of media show under ko_KR.UTF-8"
note "$(head -n1 "$WORK/out.ko")"
both content list
list_hdr='ID        KIND            VERSION     FILES           BYTES  NAME'
assert_eq "$(head -n1 "$WORK/out.en")" "$list_hdr" "the header of content list under LANG=C"
ko_hdr=$(msgstr "$list_hdr\n")
assert_eq "$(head -n1 "$WORK/out.ko")" "${ko_hdr%\\n}" "the header of content list under ko_KR.UTF-8"
assert_eq "$(tail -n +2 "$WORK/out.ko")" "$(tail -n +2 "$WORK/out.en")" "the rows of content list"
both stats
grep -q '^dedup ratio: ' "$WORK/out.en" || fail "LANG=C stats has no 'dedup ratio:' line"
grep -q '^중복 제거 비율: ' "$WORK/out.ko" || fail "stats under ko_KR.UTF-8 has no Korean dedup ratio line"
for args in "media show kodata --json" "media list --json" "content show $id --json" "stats --json"; do
	# shellcheck disable=SC2086
	both $args
	cmp -s "$WORK/out.en" "$WORK/out.ko" || fail "tsmedia $args differs under ko_KR.UTF-8: $(diff "$WORK/out.en" "$WORK/out.ko" | head -c 600)"
done
note "--json of media show, media list, content show and stats: the same bytes in both languages"

check "ts show in Korean: the steps stand-alone media cannot run, with their words translated"
# A console export whose blockers include a dynamic application install list
# (Post-Processing/Install Applications) and an InstallUpdateAction step.
TS_FIX=${TSMEDIA_SHARED_DIR:-$TESTS_DIR/../../../shared}/fixtures/task-sequences/console-object_win10-ipu_drfiles_PS10000E.xml
if [[ -f $TS_FIX ]]; then
	tsm "$store" ts import "$TS_FIX" >/dev/null 2>&1 || fail "ts import $TS_FIX failed"
	both ts show PS10000E
	head_en='Steps stand-alone media cannot run (they need a site):'
	head_ko=$(msgstr "\\n$head_en\\n")
	head_ko=${head_ko#\\n}
	head_ko=${head_ko%\\n}
	grep -qxF "$head_en" "$WORK/out.en" || fail "LANG=C ts show PS10000E has no '$head_en' line"
	grep -qxF "$head_ko" "$WORK/out.ko" || fail "ts show PS10000E under ko_KR.UTF-8 lacks the heading '$head_ko'"
	dyn_ko=$(msgstr ", a dynamic install list")
	assert_ne "$dyn_ko" ", a dynamic install list" "the msgstr of ', a dynamic install list'"
	line_en='  Post-Processing/Install Applications (SMS_TaskSequence_InstallApplicationAction, a dynamic install list)'
	line_ko="  Post-Processing/Install Applications (SMS_TaskSequence_InstallApplicationAction$dyn_ko)"
	grep -qxF -- "$line_en" "$WORK/out.en" || fail "LANG=C ts show PS10000E lacks the blocker '$line_en'"
	grep -qxF -- "$line_ko" "$WORK/out.ko" ||
		fail "ts show PS10000E under ko_KR.UTF-8 lacks the translated blocker '$line_ko': $(sed -n "/$head_ko/,\$p" "$WORK/out.ko" | head -c 800)"
	! grep -qF 'a dynamic install list' "$WORK/out.ko" || fail "ts show under ko_KR.UTF-8 still prints 'a dynamic install list'"
	# The same blockers, in the same order, in both languages.
	assert_eq "$(sed -n "/^$head_ko\$/,\$p" "$WORK/out.ko" | wc -l)" \
		"$(sed -n "/^$head_en\$/,\$p" "$WORK/out.en" | wc -l)" "lines from the blockers' heading on"
	note "$(grep -F -- "$dyn_ko" "$WORK/out.ko" | head -n1)"
	both ts show PS10000E --json
	cmp -s "$WORK/out.en" "$WORK/out.ko" || fail "ts show --json differs under ko_KR.UTF-8: $(diff "$WORK/out.en" "$WORK/out.ko" | head -c 600)"
	grep -qF 'SMS_TaskSequence_InstallApplicationAction, a dynamic install list)' "$WORK/out.ko" ||
		fail "ts show --json under ko_KR.UTF-8 lost the English blocker text"
else
	skip_part "ts show in Korean (fixture not found: $TS_FIX; set TSMEDIA_SHARED_DIR)"
fi

pass
