#!/bin/sh
#
# apache.sh - start/stop the web server (www/apache13 port, FreeBSD 4.x style).
#
# Lab edition: the httpd is busybox httpd serving /usr/local/www/data on port 80
# of the jail's address. The lab's jail(8) shim exports that address to the
# jail's startup as JAILWF_JAIL_IP (its stand-in for a jail bound to its IP).

if [ -r /etc/defaults/rc.conf ]; then
	. /etc/defaults/rc.conf
	source_rc_confs
elif [ -r /etc/rc.conf ]; then
	. /etc/rc.conf
fi

docroot=/usr/local/www/data
pidfile=/var/run/httpd.pid
logfile=/var/log/httpd-access.log

case "${apache_enable}" in
[Yy][Ee][Ss]) ;;
*) exit 0 ;;
esac

case "$1" in
start)
	if [ -z "${JAILWF_JAIL_IP}" ]; then
		echo "apache.sh: no address to bind (JAILWF_JAIL_IP is not set)" >&2
		exit 1
	fi
	mkdir -p /var/run /var/log
	/usr/sbin/httpd -f -v -p "${JAILWF_JAIL_IP}:80" -h "${docroot}" </dev/null >>"${logfile}" 2>&1 &
	echo $! > "${pidfile}"
	echo -n ' apache'
	;;
stop)
	if [ -r "${pidfile}" ]; then
		kill `cat "${pidfile}"` 2>/dev/null
		rm -f "${pidfile}"
		echo -n ' apache'
	fi
	;;
status)
	if [ -r "${pidfile}" ] && kill -0 `cat "${pidfile}"` 2>/dev/null; then
		echo "apache is running as pid `cat ${pidfile}`."
	else
		echo "apache is not running."
		exit 1
	fi
	;;
*)
	echo "Usage: `basename $0` {start|stop|status}" >&2
	exit 64
	;;
esac
exit 0
