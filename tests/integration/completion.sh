#!/usr/bin/env bash
# Bash completion (tools/completion/tsmedia.bash), driven the way bash drives
# it: COMP_WORDS/COMP_CWORD set for a command line, the completion function
# called, COMPREPLY read.  Checked with and without bash-completion's
# _init_completion: commands, subcommands, options of a command (those its
# --help names), option values, and live media names, content IDs, task
# sequence IDs and site codes read from the store the line names (--store or
# $TSMEDIA_STORE), including a media created and one removed after the
# completion was loaded; the same under ko_KR.UTF-8, where the help texts
# are in Korean.  Also: every option of tools/*.c that takes a value
# is one the completion skips as a value, and no other.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$TESTS_DIR/../.." && pwd)
COMPLETION=$ROOT/tools/completion/tsmedia.bash
[[ -f $COMPLETION ]] || fail "no $COMPLETION"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}

# shellcheck source=/dev/null
. "$COMPLETION"

# complete_line LINE: the completions bash would offer at the end of LINE
# (a trailing space: a new word), one per line, sorted.
complete_line() {
	local line=$1 fn
	read -ra COMP_WORDS <<<"$line"
	[[ $line == *' ' ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	case ${COMP_WORDS[0]} in
	*tsmediafs) fn=_tsmediafs ;;
	*) fn=_tsmedia ;;
	esac
	# As bash runs it: no errexit, no ERR trap.
	(
		set +eE
		trap - ERR
		"$fn"
		printf '%s\n' "${COMPREPLY[@]}"
	) | sed '/^$/d' | sort
}

# expect and expect_has (lib.sh) use complete_line.
S=$WORK/store
completion_store "$S"
T=$TSMEDIA

run_checks() {
	check "commands and subcommands ($1)"
	expect "$T " $("$T" --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+)( .*|$)/\1/p')
	expect "$T me" media
	expect "$T --store $S c" capture cert content
	expect "$T media " create edit list show rm export inspect write burn
	expect "$T content e" export
	expect "$T site " add edit list show rm

	check "options from each command's help ($1)"
	expect "$T --st" --store
	expect_has "$T content add --" --kind --name --version --id --as-file --index
	expect "$T content add --k" --kind
	expect_has "$T media create --" --type --name --content --password-file --no-password --media
	expect "$T stats --" --json
	expect "$T init --c" --compression

	check "option values ($1)"
	expect "$T content add --kind " boot-image os-image package application driver-package prestart
	expect "$T media create --type b" bootable
	expect "$T media create --name x --media " cd-dvd usb
	expect "$T init --compression " zstd none
	expect "$T site add --type " primary cas

	check "live names from the store ($1)"
	expect "$T --store $S media show " alpha beta.2
	expect "$T --store $S media show b" beta.2
	expect "$T --store=$S media export " alpha beta.2
	expect "$T --store $S media write " alpha beta.2
	expect "$T --store $S content show " "$ID1" "$ID2"
	expect "$T --store $S media create --type data --name n --content " "$ID1" "$ID2"
	expect "$T --store $S site show " PS1
	TSMEDIA_STORE=$S expect "$T media rm " alpha beta.2
	# An operand already given: nothing more to offer for media show.
	expect "$T --store $S media show alpha " ""
	# After an option that takes no value, the operand is still the first.
	expect "$T --store $S media show --json " alpha beta.2
	# The store changes: the next Tab sees it.
	tsm "$S" media create --type data --name gamma --content "$ID1" >/dev/null 2>&1
	tsm "$S" media rm beta.2 >/dev/null 2>&1
	expect "$T --store $S media show " alpha gamma
	tsm "$S" media rm gamma >/dev/null 2>&1
	tsm "$S" media create --type data --name beta.2 --content "$ID2" >/dev/null 2>&1
	# A store that is not there: no names, and no error on the terminal.
	expect "$T --store $WORK/none media show " ""

	if [[ -x $TSMEDIAFS ]]; then
		check "tsmediafs ($1)"
		expect_has "$TSMEDIAFS -" --store -f -o
		expect_has "$TSMEDIAFS /mnt -o " allow_other page_cache scrub= store=
		expect "$TSMEDIAFS /mnt -o allow_other,pa" allow_other,page_cache
	fi
}

run_checks "without bash-completion"
if [[ -f /usr/share/bash-completion/bash_completion ]]; then
	# shellcheck source=/dev/null
	. /usr/share/bash-completion/bash_completion
	declare -F _init_completion >/dev/null || fail "bash-completion loaded but has no _init_completion"
	. "$COMPLETION"
	run_checks "with bash-completion's _init_completion"
else
	skip_part "bash-completion is not installed (Debian: bash-completion): checked without it only"
fi

check "under a Korean locale: the completion reads the C locale's help"
# The help texts are translated under ko_KR.UTF-8 ("Commands:" is not there);
# the completion runs the programs with LC_ALL=C, so it offers the same words.
if korean_help; then
	cmds=$(LC_ALL=C "$T" --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+)( .*|$)/\1/p')
	saved_lang=${LANG-}
	export LANG=ko_KR.UTF-8 LC_ALL=ko_KR.UTF-8
	# shellcheck disable=SC2086
	expect "$T " $cmds
	expect "$T media " create edit list show rm export inspect write burn
	expect_has "$T content add --" --kind --name --version --id --as-file --index
	expect "$T stats --" --json
	expect "$T --store $S media show " alpha beta.2
	expect "$T --store $S content show " "$ID1" "$ID2"
	expect "$T --store $S site show " PS1
	if [[ -x $TSMEDIAFS ]]; then
		expect_has "$TSMEDIAFS /mnt -o " allow_other page_cache scrub= store=
	fi
	unset LC_ALL
	LANG=$saved_lang
fi

check "the options that take a value, as tools/*.c declares them"
grep -ohE '\{ "[a-z0-9-]+", (required|no)_argument' "$ROOT"/tools/*.c | tr -d '{",' | sort -u >"$WORK/opts"
# The site value options are made at run time from core/catalog/site.c's
# value_names table: each takes a value.
sed -n '/value_names\[TSM_SITE_VALUE_COUNT\] = {/,/^};/p' "$ROOT/core/catalog/site.c" |
	sed -nE 's/.*= "([a-z0-9-]+)",/\1 required_argument/p' >>"$WORK/opts"
grep -q '^http-port required_argument$' "$WORK/opts" || fail "no site value options found in core/catalog/site.c"
(($(wc -l <"$WORK/opts") >= 50)) || fail "found only $(wc -l <"$WORK/opts") options in tools/*.c"
while read -r name kind; do
	# --version is the global option (no value) and content add's label (a value).
	[[ $name == version ]] && continue
	if [[ $kind == required_argument ]]; then
		_tsmedia_takes_value "--$name" || fail "--$name takes a value (tools/*.c) but the completion does not skip it"
	else
		! _tsmedia_takes_value "--$name" || fail "--$name takes no value (tools/*.c) but the completion treats the next word as its value"
	fi
done <"$WORK/opts"
note "$(grep -c required_argument "$WORK/opts") options with a value, $(grep -c no_argument "$WORK/opts") without"

pass
