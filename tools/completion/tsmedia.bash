# bash completion for tsmedia(1) and tsmediafs(8).
#
# Commands and subcommands are completed from `tsmedia --help` and
# `tsmedia GROUP --help`, options from the help of the command being typed,
# so the completion follows the binary it completes.  Media names, content
# IDs, task sequence IDs, application IDs and site codes come from the store the command line
# names (--store, else $TSMEDIA_STORE, else tsmedia's default), read with the
# list commands.  Installed as completions/tsmedia and completions/tsmediafs.
#
# Under another language (LANG=ko_KR.UTF-8) the help texts and the headers
# of the listings are translated, so what is read here is always what the
# programs print in the C locale (LC_ALL=C).

# _tsmedia_run ARGS...: run the tsmedia being completed, on the store the
# command line names, with no messages, in the C locale.
_tsmedia_run()
{
	local -a store=()
	[[ -n ${_tsmedia_store-} ]] && store=(--store "$_tsmedia_store")
	LC_ALL=C LANGUAGE= "${_tsmedia_bin:-tsmedia}" "${store[@]}" "$@" 2>/dev/null
}

# _tsmedia_names PATTERN ARGS...: the first column of a listing, rows only
# (the header line is left out), those matching the extended PATTERN.
_tsmedia_names()
{
	local pattern=$1
	shift
	_tsmedia_run "$@" | awk 'NR > 1 { print $1 }' | grep -E -- "$pattern"
}

_tsmedia_media() { _tsmedia_names '^[A-Za-z0-9._-]+$' media list; }
_tsmedia_content_ids() { _tsmedia_names '^[A-Z0-9]{3}[0-9A-F]{5}$' content list; }
_tsmedia_ts_ids() { _tsmedia_names '^[A-Z0-9]{3}[0-9A-F]{5}$' ts list; }
_tsmedia_sites() { _tsmedia_names '^[A-Z0-9]{3}$' site list; }
_tsmedia_app_ids() { _tsmedia_names '^ScopeId_[0-9A-F-]{36}/Application_[0-9a-f-]{36}$' app list; }

# _tsmedia_help_options ARGS...: the long and short options a help text names.
_tsmedia_help_options()
{
	# "tsmedia [--store DIR] CMD" in the usage lines is the global option.
	_tsmedia_run "$@" --help | sed 's/tsmedia \[--store DIR\]//g' | grep -oE -- '(^|[][ ,|])--?[A-Za-z][A-Za-z0-9-]*' |
		sed -E 's/^[][ ,|]//' | sort -u
}

# _tsmedia_subcommands GROUP: "  SUB ..." lines of the group's help.
_tsmedia_subcommands()
{
	_tsmedia_run "$1" --help | sed -nE 's/^  ([a-z]+)( .*|$)/\1/p'
}

_tsmedia_commands()
{
	_tsmedia_run --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+)( .*|$)/\1/p'
}

# _tsmedia_takes_value WORD: whether WORD is an option that takes the next
# word as its value (every such option of tsmedia's commands).
_tsmedia_takes_value()
{
	case $1 in
	--store | --kind | --type | --compression | --media | --partition-table | --size | --split | \
		--mode | --user-device-affinity | --content | --boot-image | --os-image | --package | \
		--application | --driver-package | --prestart-files | --id | --task-sequence | --site | \
		--parent | --code | -o | --output | --out | --password-file | --certificate | \
		--certificate-password-file | --root-ca | --add-root-ca | --hybrid-mbr | --name | \
		--version | --label | -V | --volume-id | --publisher | --description | --subject | \
		--valid-from | --valid-until | --certificate-valid-from | --certificate-valid-until | \
		--variable | --prestart-command | --created-by | --comment | --index | --volume | \
		--boot-load-size | --since | --site-code | --mp | --add-mp | --rm-mp | --rm-root-ca | \
		--os-image-index | --bios-boot | --uefi-boot | --usb-bios-mbr | --usb-bios-core | \
		--management-point | --media-cipher | --clear | --http-port | --https-port | \
		--iis-ssl-state | --signing-certificate | --public-root-key | --root-ca-certs | \
		--use-first-cert | --x64-unknown-guid | --x86-unknown-guid | --device | --keep-versions | \
		--allow-step | --s3 | --endpoint | --region | --grace)
		return 0 ;;
	esac
	return 1
}

_tsmedia_compgen_words()
{
	mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

_tsmedia()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion -n = || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi
	local _tsmedia_bin=${words[0]} _tsmedia_store=${TSMEDIA_STORE-}
	local i cmd= sub= cmd_at=0 nargs=0

	# Global options come before the command; the first other word is it.
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--store) _tsmedia_store=${words[i + 1]}; ((i++)) ;;
		--store=*) _tsmedia_store=${words[i]#--store=} ;;
		-*) ;;
		*) cmd=${words[i]}; cmd_at=$i; break ;;
		esac
	done
	# Quoting and ~ in --store as the shell would expand them.
	[[ $_tsmedia_store == \~* ]] && _tsmedia_store=$HOME${_tsmedia_store#\~}

	if [[ -z $cmd ]]; then
		case $prev in
		--store) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
		esac
		if [[ $cur == -* ]]; then
			_tsmedia_compgen_words "--store --quiet --verbose --help --version -q -v -h -V"
		else
			_tsmedia_compgen_words "$(_tsmedia_commands)"
		fi
		return
	fi

	# A command group's subcommand is the next word.
	local groups=" content media ts app site cert store "
	if [[ $groups == *" $cmd "* ]]; then
		if ((cword == cmd_at + 1)); then
			_tsmedia_compgen_words "$(_tsmedia_subcommands "$cmd")"
			return
		fi
		sub=${words[cmd_at + 1]}
	fi

	# Values of options.
	case $prev in
	--kind)
		if [[ $cmd == capture ]]; then
			_tsmedia_compgen_words "os-image boot-image"
		else
			_tsmedia_compgen_words "boot-image os-image package application driver-package prestart"
		fi
		return ;;
	--type)
		if [[ $cmd == site ]]; then
			_tsmedia_compgen_words "primary cas"
		else
			_tsmedia_compgen_words "data capture bootable prestaged standalone"
		fi
		return ;;
	--compression) _tsmedia_compgen_words "zstd none"; return ;;
	--media) _tsmedia_compgen_words "cd-dvd usb"; return ;;
	--partition-table) _tsmedia_compgen_words "mbr gpt"; return ;;
	--size)
		if [[ $cmd == media ]]; then
			_tsmedia_compgen_words "650mb 4.7gb 8.5gb unlimited"
		fi
		return ;;
	--split) _tsmedia_compgen_words "fat32"; return ;;
	--mode) _tsmedia_compgen_words "dynamic site-based"; return ;;
	--media-cipher) _tsmedia_compgen_words "aes256 aes128"; return ;;
	--user-device-affinity) _tsmedia_compgen_words "auto admin deny"; return ;;
	--content)
		if [[ $cmd == app ]]; then
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		else
			_tsmedia_compgen_words "$(_tsmedia_content_ids)"
		fi
		return ;;
	--application) _tsmedia_compgen_words "$(_tsmedia_content_ids) $(_tsmedia_app_ids)"; return ;;
	--boot-image | --os-image | --package | --driver-package | --prestart-files)
		_tsmedia_compgen_words "$(_tsmedia_content_ids)"; return ;;
	--id)
		if [[ $cmd == ts ]]; then
			_tsmedia_compgen_words "$(_tsmedia_ts_ids)"
		else
			_tsmedia_compgen_words "$(_tsmedia_content_ids)"
		fi
		return ;;
	--task-sequence) _tsmedia_compgen_words "$(_tsmedia_ts_ids)"; return ;;
	--site | --parent | --code) _tsmedia_compgen_words "$(_tsmedia_sites)"; return ;;
	--store) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
	--device) mapfile -t COMPREPLY < <(compgen -f -- "${cur:-/dev/}"); return ;;
	-o | --output | --out | --password-file | --certificate | --certificate-password-file | \
		--root-ca | --add-root-ca | --hybrid-mbr)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
	*)
		# Free text, or a path inside the content: nothing to offer.
		_tsmedia_takes_value "$prev" && return ;;
	esac

	if [[ $cur == -* ]]; then
		if [[ -n $sub ]]; then
			_tsmedia_compgen_words "$(_tsmedia_help_options "$cmd" "$sub")"
		else
			_tsmedia_compgen_words "$(_tsmedia_help_options "$cmd")"
		fi
		return
	fi

	# Operands: count the words after the (sub)command that are not options
	# or option values, to know which operand this is.
	local first=$((cmd_at + 1))
	[[ -n $sub ]] && first=$((cmd_at + 2))
	for ((i = first; i < cword; i++)); do
		[[ ${words[i]} == -* ]] && continue
		_tsmedia_takes_value "${words[i - 1]}" && continue
		((nargs++))
	done

	case "$cmd $sub" in
	"media show" | "media edit" | "media rm" | "media export" | "media write" | "media burn")
		((nargs == 0)) && _tsmedia_compgen_words "$(_tsmedia_media)" ;;
	"media inspect")
		if ((nargs == 0)); then
			_tsmedia_compgen_words "$(_tsmedia_media)"
			mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")
		fi ;;
	"content show" | "content rm" | "content cat" | "content export")
		((nargs == 0)) && _tsmedia_compgen_words "$(_tsmedia_content_ids)" ;;
	"ts show" | "ts rm")
		((nargs == 0)) && _tsmedia_compgen_words "$(_tsmedia_ts_ids)" ;;
	"app show" | "app rm")
		((nargs == 0)) && _tsmedia_compgen_words "$(_tsmedia_app_ids)" ;;
	"site show" | "site edit" | "site rm")
		((nargs == 0)) && _tsmedia_compgen_words "$(_tsmedia_sites)" ;;
	"mkiso ")
		_tsmedia_compgen_words "$(_tsmedia_content_ids)"
		mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur") ;;
	"content add" | "capture " | "ts import" | "app import" | "cert check" | "mount ")
		mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
	esac
}

_tsmediafs()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi
	case $prev in
	--store | --cache) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
	--remote) mapfile -t COMPREPLY < <(compgen -W "s3://" -- "$cur"); compopt -o nospace 2>/dev/null; return ;;
	--endpoint) mapfile -t COMPREPLY < <(compgen -W "http:// https://" -- "$cur"); compopt -o nospace 2>/dev/null; return ;;
	--region | --cache-size | --frontend-id) return ;;
	-o)
		# The -o options tsmediafs --help describes, then FUSE's own.
		local opts
		opts=$(LC_ALL=C LANGUAGE= "${words[0]}" --help 2>/dev/null | sed -nE 's/^  -o ([a-z_]+)(=[A-Z:]+)?.*/\1\2/p' |
			sed -E 's/=.*/=/' | grep -v '^OPTION')
		mapfile -t COMPREPLY < <(compgen -W "$opts max_threads=" -- "${cur##*,}")
		[[ $cur == *,* ]] && COMPREPLY=("${COMPREPLY[@]/#/${cur%,*},}")
		compopt -o nospace 2>/dev/null
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "--store --remote --endpoint --region --cache --cache-size --frontend-id -f -d -s -o -h --help -V --version" -- "$cur"))
		return
	fi
	mapfile -t COMPREPLY < <(compgen -d -- "$cur")
}

complete -F _tsmedia tsmedia
complete -F _tsmediafs tsmediafs
