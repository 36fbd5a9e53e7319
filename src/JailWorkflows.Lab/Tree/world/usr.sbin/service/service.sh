#!/bin/sh
#
# service(8) of the jailwf lab world (lab size): run rc.d scripts from /etc/rc.d and the local
# startup directories.
#	service -e		list the enabled scripts (full paths)
#	service -l		list all scripts
#	service <script> <verb>	run the script with verb (start, stop, status, onestart, ...)

. /etc/rc.subr
load_rc_config

usage() {
	echo "usage: service [-j <jail name or id>] [-rv] <rc.d script> start|stop|etc." >&2
	echo "       service -e" >&2
	echo "       service -l | service -r" >&2
	exit 1
}

_dirs="/etc/rc.d ${local_startup}"

case "$1" in
-e)
	for _dir in ${_dirs}; do
		[ -d "${_dir}" ] || continue
		for _f in "${_dir}"/*; do
			[ -x "${_f}" ] && [ -f "${_f}" ] || continue
			case "${_f}" in
			*.sh)
				# old-style scripts: enabled when their <name>_enable is (apache.sh: apache_enable)
				_n=${_f##*/}; _n=${_n%.sh}
				checkyesno "${_n}_enable" 2>/dev/null && echo "${_f}"
				;;
			*)
				_rcvar=$(sed -n 's/^rcvar="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "${_f}" | head -n 1)
				[ -n "${_rcvar}" ] && checkyesno "${_rcvar}" 2>/dev/null && echo "${_f}"
				;;
			esac
		done
	done
	exit 0
	;;
-l)
	for _dir in ${_dirs}; do
		[ -d "${_dir}" ] && ls "${_dir}"
	done
	exit 0
	;;
-*|'')
	usage
	;;
esac

[ $# -ge 2 ] || usage
_script=$1; shift
for _dir in ${_dirs}; do
	if [ -x "${_dir}/${_script}" ] && [ -f "${_dir}/${_script}" ]; then
		exec env -i HOME=/ PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin \
			JAILWF_JAIL_IP="${JAILWF_JAIL_IP}" /bin/sh "${_dir}/${_script}" "$@"
	fi
done
echo "${_script} does not exist in /etc/rc.d or the local startup" >&2
echo "directories (${local_startup}), or is not executable" >&2
exit 1
