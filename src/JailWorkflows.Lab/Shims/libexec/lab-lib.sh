# lab-lib.sh: sourced by the jailwf lab shims (bash). Finds the lab host's directory from the shim's own
# path (<host>/bin/<shim>), reads <host>/etc/lab-host.conf, keeps the caller's PATH in LAB_CALLER_PATH and
# sets a plain Linux PATH for the shim itself (so a shim never calls another shim by accident).
LAB_SELF=$(readlink -f "$0")
LAB_HOST_DIR=$(dirname "$(dirname "$LAB_SELF")")
_lab_host_dir=$LAB_HOST_DIR
# shellcheck disable=SC1091
. "$LAB_HOST_DIR/etc/lab-host.conf"
# The shim's own location wins over the recorded one (a copied host directory stays self-contained).
LAB_HOST_DIR=$_lab_host_dir
LAB_CALLER_PATH=$PATH
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
LAB_PROG=${0##*/}

# lab_starttime PID: the process start time (clock ticks since boot, /proc/PID/stat field 22); fails when gone.
lab_starttime() {
	local stat rest
	[ -n "$1" ] || return 1
	read -r stat < "/proc/$1/stat" 2>/dev/null || return 1
	rest=${stat##*) }
	# shellcheck disable=SC2086
	set -- $rest
	[ "$1" != Z ] || return 1
	echo "${20}"
}

# lab_alive PID STARTTIME: true while PID runs and is the recorded process.
lab_alive() {
	local st
	st=$(lab_starttime "$1") || return 1
	[ -z "$2" ] || [ "$st" = "$2" ]
}

# lab_record_get FILE KEY: the value of KEY=value in a record file.
lab_record_get() {
	local line
	while IFS= read -r line; do
		case $line in "$2="*) printf '%s\n' "${line#*=}"; return 0 ;; esac
	done < "$1"
	return 1
}

# lab_major: the major release number (4 for 4.10-RELEASE).
lab_major() { echo "${LAB_RELEASE%%.*}"; }

# lab_partition_of PATH: the source server's partition holding the absolute PATH (longest mount point that is a
# prefix of it, etc/partitions). Sets LAB_PART_MNT, LAB_PART_DEV, LAB_PART_LOOP and LAB_PART_REL (PATH relative to
# the partition's root, starting with /). Also takes a FreeBSD device name (/dev/ad0s1f). Fails when none.
lab_partition_of() {
	local path=$1 m d l _img prefix best=-1
	[ "$path" = / ] || path=${path%/}
	LAB_PART_MNT="" LAB_PART_DEV="" LAB_PART_LOOP="" LAB_PART_REL=""
	while read -r m d l _img; do
		[ -n "$m" ] || continue
		if [ "$path" = "$d" ]; then
			LAB_PART_MNT=$m LAB_PART_DEV=$d LAB_PART_LOOP=$l LAB_PART_REL=/
			return 0
		fi
		if [ "$m" = / ]; then prefix=/; else prefix=$m/; fi
		case $path in
		"$m"|"$prefix"*) ;;
		*) continue ;;
		esac
		if [ "${#m}" -gt "$best" ]; then
			best=${#m}
			LAB_PART_MNT=$m LAB_PART_DEV=$d LAB_PART_LOOP=$l
			if [ "$m" = / ]; then LAB_PART_REL=$path; else LAB_PART_REL=${path#"$m"}; fi
			[ -n "$LAB_PART_REL" ] || LAB_PART_REL=/
		fi
	done < "$LAB_HOST_DIR/etc/partitions"
	[ -n "$LAB_PART_LOOP" ]
}

# lab_part_type: after lab_partition_of, the file type of LAB_PART_REL on its partition (regular, directory,
# symlink…), read with debugfs (read-only); prints nothing when there is no such file.
lab_part_type() {
	local rel=${LAB_PART_REL//\"/\\\"}
	DEBUGFS_PAGER=__none__ debugfs -R "stat \"$rel\"" "$LAB_PART_LOOP" 2>/dev/null | sed -n '1s/.*Type: \([a-z]*\).*/\1/p'
}
