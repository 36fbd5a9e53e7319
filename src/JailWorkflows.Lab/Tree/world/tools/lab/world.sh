#!/bin/sh
# world.sh: the work behind the lab source tree's buildworld, installworld and distribution targets.
# Environment: SRCTOP, WORLDDIR, LAB_CLEAN (yes|no), JOBS, DESTDIR; knobs LAB_STAGE_SECONDS and
# LAB_FAIL_AT from the environment, else from ${SRCTOP}/lab.conf.
set -u
target=$1
env_stage=${LAB_STAGE_SECONDS:-}
env_fail=${LAB_FAIL_AT:-}
if [ -r "${SRCTOP}/lab.conf" ]; then
	. "${SRCTOP}/lab.conf"
fi
[ -n "$env_stage" ] && LAB_STAGE_SECONDS=$env_stage
[ -n "$env_fail" ] && LAB_FAIL_AT=$env_fail
LAB_STAGE_SECONDS=${LAB_STAGE_SECONDS:-2}
LAB_FAIL_AT=${LAB_FAIL_AT:-}
STAMPS=${WORLDDIR}/.stamps
BUSYBOX=/bin/busybox
. "${SRCTOP}/sys/conf/newvers.sh"

line() { echo "--------------------------------------------------------------"; }
banner() { line; echo ">>> $*"; line; }

# stage N description: runs do_stage_N unless its stamp exists (NO_CLEAN), fails at LAB_FAIL_AT.
stage() {
	n=$1; shift
	banner "Stage $n: $*"
	if [ -f "${STAMPS}/stage.$n" ]; then
		return 0
	fi
	sleep "${LAB_STAGE_SECONDS}"
	if [ "${LAB_FAIL_AT}" = "$n" ]; then
		echo "cc: error: lab failure point reached in stage $n (LAB_FAIL_AT=${LAB_FAIL_AT})" >&2
		echo "*** Error code 1" >&2
		echo "" >&2
		echo "Stop." >&2
		echo "make[1]: stopped in ${SRCTOP}" >&2
		exit 1
	fi
	"do_stage_$(echo "$n" | tr . _)"
	mkdir -p "${STAMPS}"
	date > "${STAMPS}/stage.$n"
}

do_stage_1_1() { mkdir -p "${WORLDDIR}/tmp/legacy/usr/bin"; }
do_stage_1_2() { mkdir -p "${WORLDDIR}/tmp/obj-tools"; echo "bootstrap tools" > "${WORLDDIR}/tmp/obj-tools/README"; }
do_stage_2_3() { cp "${BUSYBOX}" "${WORLDDIR}/tmp/legacy/usr/bin/busybox"; }
do_stage_3() { echo "cross tools for ${TYPE} ${RELEASE}" > "${WORLDDIR}/tmp/cross-tools"; }
do_stage_4_1() {
	mkdir -p "${WORLDDIR}/root/usr/include/sys"
	echo "#define __FreeBSD_version 1401000" > "${WORLDDIR}/root/usr/include/sys/param.h"
}
do_stage_4_2() {
	mkdir -p "${WORLDDIR}/root/lib" "${WORLDDIR}/root/usr/lib"
	echo "lab libc for ${VERSION}" > "${WORLDDIR}/root/lib/libc.so.7"
}
do_stage_4_3() {
	r=${WORLDDIR}/root
	for d in bin sbin lib libexec rescue usr/bin usr/sbin usr/lib usr/libexec usr/share/misc usr/include; do
		mkdir -p "$r/$d"
	done
	cp "${WORLDDIR}/tmp/legacy/usr/bin/busybox" "$r/bin/busybox"
	chmod 0555 "$r/bin/busybox"
	"${BUSYBOX}" --list-full | while read -r applet; do
		case $applet in
		bin/busybox|linuxrc|*..*) continue ;;
		bin/*) target=busybox ;;
		*/*) target=/bin/busybox ;;
		*) continue ;;
		esac
		[ -d "$r/$(dirname "$applet")" ] || continue
		[ -e "$r/$applet" ] || ln -s "$target" "$r/$applet"
	done
	cp "${SRCTOP}/usr.sbin/service/service.sh" "$r/usr/sbin/service"
	chmod 0555 "$r/usr/sbin/service"
	echo "${VERSION}" > "$r/usr/share/misc/lab-world-version"
	printf '#!/bin/sh\necho %s\n' "${RELEASE}" > "$r/bin/freebsd-version"
	chmod 0555 "$r/bin/freebsd-version"
}

case $target in
buildworld)
	line
	echo ">>> World build started on $(LC_ALL=C date)"
	line
	if [ "${LAB_CLEAN}" = yes ]; then
		banner "Stage 2.1: cleaning up the object tree"
		rm -rf "${WORLDDIR}"
	fi
	mkdir -p "${WORLDDIR}"
	rm -f "${STAMPS}/world.complete"
	stage 1.1 "legacy release compatibility shims"
	stage 1.2 "bootstrap tools"
	stage 2.3 "build tools"
	stage 3 "cross tools"
	stage 4.1 "building includes"
	stage 4.2 "building libraries"
	stage 4.3 "building everything"
	echo "${VERSION} built $(LC_ALL=C date)" > "${STAMPS}/world.complete"
	line
	echo ">>> World build completed on $(LC_ALL=C date)"
	line
	;;
installworld)
	if [ -z "${DESTDIR:-}" ]; then
		echo "ERROR: lab: installworld needs DESTDIR=<jail root>; the lab never installs over this machine." >&2
		exit 1
	fi
	if [ ! -f "${STAMPS}/world.complete" ]; then
		echo "ERROR: Please run 'make buildworld' first: the world in ${WORLDDIR} did not complete (no ${STAMPS}/world.complete)." >&2
		exit 1
	fi
	line
	echo ">>> Installing everything started on $(LC_ALL=C date)"
	line
	mkdir -p "${DESTDIR}"
	# Files that carry schg in the target (restored from an old server) are replaced as install -fschg would.
	(cd "${WORLDDIR}/root" && find . ! -type d) | while read -r f; do
		if [ -f "${DESTDIR}/$f" ] && [ ! -L "${DESTDIR}/$f" ]; then chattr -i "${DESTDIR}/$f" 2>/dev/null; fi
	done
	# As the real installworld, includes and libraries go first, then everything else (a kill in between
	# leaves a half-finished install; LAB_STAGE_SECONDS is the time between the two).
	for part in usr/include lib usr/lib; do
		if [ -d "${WORLDDIR}/root/$part" ]; then
			mkdir -p "${DESTDIR}/$part"
			cp -a --remove-destination "${WORLDDIR}/root/$part/." "${DESTDIR}/$part/" || exit 1
		fi
	done
	echo ">>> Libraries installed; installing everything else"
	sleep "${LAB_STAGE_SECONDS}"
	cp -a --remove-destination "${WORLDDIR}/root/." "${DESTDIR}/" || exit 1
	line
	echo ">>> Installing everything completed on $(LC_ALL=C date)"
	line
	;;
distrib-dirs)
	[ -n "${DESTDIR:-}" ] || { echo "ERROR: lab: DESTDIR required" >&2; exit 1; }
	for d in etc etc/rc.d etc/defaults etc/mail var/run var/log var/db var/tmp tmp root usr/local/etc/rc.d; do
		mkdir -p "${DESTDIR}/$d"
	done
	;;
distribution)
	[ -n "${DESTDIR:-}" ] || { echo "ERROR: lab: DESTDIR required" >&2; exit 1; }
	mkdir -p "${DESTDIR}/etc"
	cp -pR "${SRCTOP}/etc/." "${DESTDIR}/etc/"
	# FreeBSD's etc/Makefile installs the kernel's GENERIC.hints as /boot/device.hints (a jail needs no /boot).
	if [ -f "${SRCTOP}/sys/amd64/conf/GENERIC.hints" ]; then
		mkdir -p "${DESTDIR}/boot"
		cp -p "${SRCTOP}/sys/amd64/conf/GENERIC.hints" "${DESTDIR}/boot/device.hints"
	fi
	;;
*)
	echo "world.sh: unknown target $target" >&2
	exit 2
	;;
esac
exit 0
