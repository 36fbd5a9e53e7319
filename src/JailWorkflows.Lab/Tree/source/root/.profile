# $FreeBSD: src/etc/root/dot.profile,v 1.20.2.3 2002/06/28 00:08:33 des Exp $
#
PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin
export PATH
HOME=/root; export HOME
TERM=${TERM:-cons25}; export TERM
PAGER=more; export PAGER
