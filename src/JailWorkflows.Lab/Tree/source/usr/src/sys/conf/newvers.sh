#!/bin/sh -
#
# $FreeBSD: src/sys/conf/newvers.sh,v 1.44.2.40 2004/05/25 lab Exp $

TYPE="FreeBSD"
REVISION="@REVISION@"
BRANCH="RELEASE"
RELEASE="${REVISION}-${BRANCH}"
VERSION="${TYPE} ${RELEASE}"
