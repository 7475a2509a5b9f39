#!/bin/sh
# Prints the Debian upstream version of the checkout, from
# `git describe --tags --always --dirty` (tags look like v1.2.3):
#
#   v1.2.3                    -> 1.2.3
#   v1.2.3-4-gabc1234         -> 1.2.3+git4.abc1234   (after the release)
#   v1.3.0-rc1                -> 1.3.0~rc1            (before 1.3.0)
#   abc1234 (no tag yet)      -> 0.0.0~git<commits>.abc1234
#   any of these, -dirty      -> ….dirty / +dirty
#
# so that dpkg orders builds as git does. The Debian revision (-1) is added
# by nfpm from REVISION.
set -eu

desc=$(git describe --tags --always --dirty --match 'v[0-9]*' 2>/dev/null) || {
	echo "version.sh: not a git checkout; set VERSION=… explicitly" >&2
	exit 1
}

dirty=
case $desc in
*-dirty) dirty=dirty desc=${desc%-dirty} ;;
esac

case $desc in
v[0-9]*)
	# v1.2.3[-rc1][-N-gSHA]
	ahead= sha=
	if printf '%s' "$desc" | grep -Eq -- '-[0-9]+-g[0-9a-f]+$'; then
		sha=${desc##*-g}
		rest=${desc%-g*}
		ahead=${rest##*-}
		desc=${rest%-*}
	fi
	version=$(printf '%s' "${desc#v}" | sed 's/-/~/')
	if [ -n "$ahead" ]; then
		version=$version+git$ahead.$sha
	fi
	if [ -n "$dirty" ]; then
		case $version in
		*+*) version=$version.dirty ;;
		*) version=$version+dirty ;;
		esac
	fi
	;;
*)
	count=$(git rev-list --count HEAD)
	version=0.0.0~git$count.$desc
	if [ -n "$dirty" ]; then
		version=$version.dirty
	fi
	;;
esac

if ! printf '%s' "$version" | grep -Eq '^[0-9][A-Za-z0-9.+~]*$'; then
	echo "version.sh: $desc gives $version, which is no Debian upstream version; tag releases as v1.2.3" >&2
	exit 1
fi
printf '%s\n' "$version"
