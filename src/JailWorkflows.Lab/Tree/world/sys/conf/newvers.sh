#!/bin/sh -
#
# SPDX-License-Identifier: BSD-3-Clause
# (lab copy: only the version variables of FreeBSD's sys/conf/newvers.sh)

TYPE="FreeBSD"
REVISION="14.1"
BRANCH="RELEASE"
if [ -n "${BRANCH_OVERRIDE:-}" ]; then
	BRANCH=${BRANCH_OVERRIDE}
fi
RELEASE="${REVISION}-${BRANCH}"
VERSION="${TYPE} ${RELEASE}"
