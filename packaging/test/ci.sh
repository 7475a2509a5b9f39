#!/bin/sh
# Packaging checks for CI: builds the four .debs (make deb) and checks
#   - systemd-analyze verify on the three units (in a scratch root holding
#     the host's units and the built binary as /usr/bin/edgepub),
#   - systemd-analyze security --offline: exposure of edgepub.service,
#     edgepub-certs.service and edgepub-fleet.service <= 2.0,
#   - promtool check rules and promtool test rules on the alert rules,
#   - the journald catalog compiles and lists every id of msgid.go,
#   - lintian on the amd64 package: no errors or warnings left unoverridden,
#   - each package's contents, architecture, conffile, static ELF binary
#     of the right machine and GOARM, and that packaging/copyright names
#     every Go module compiled into it,
#   - `edgepub version` of every binary, the ARM ones under qemu-user, and
#     a short simulated run of the arm64 and armhf binaries under qemu-user
#     against a local Mosquitto (packaging/test/qemu-run.sh)
#     (binfmt_misc need not be mounted: the emulators are called directly).
#
# Usage: packaging/test/ci.sh    (from anywhere; SKIP_BUILD=1 reuses dist/)
# Needs: go, make, git, systemd, lintian, dpkg, binutils, qemu-user-static,
# mosquitto, mosquitto-clients, iproute2, prometheus (for promtool).
set -eu

cd "$(dirname "$0")/../.."
VERSION=${VERSION:-$(packaging/version.sh)}
REVISION=${REVISION:-1}
ARCHES="amd64 arm64 armhf armel"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0

step() { printf '\n== %s\n' "$*"; }
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	failures=$((failures + 1))
}

if [ "${SKIP_BUILD:-}" != 1 ]; then
	step "make deb VERSION=$VERSION REVISION=$REVISION"
	make deb VERSION="$VERSION" REVISION="$REVISION"
fi
deb() { echo "dist/edgepub_${VERSION}-${REVISION}_$1.deb"; }
for arch in $ARCHES; do
	[ -f "$(deb "$arch")" ] || { echo "missing $(deb "$arch")" >&2; exit 1; }
done

step "systemd-analyze verify"
root=$scratch/root
mkdir -p "$root/usr/lib/systemd" "$root/usr/bin" "$root/bin" "$root/etc/systemd/system"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp packaging/edgepub.service packaging/edgepub-certs.path packaging/edgepub-certs.service \
	packaging/edgepub-fleet.service "$root/usr/lib/systemd/system/"
cp dist/amd64/edgepub "$root/usr/bin/edgepub"
for tool in kill sleep systemctl; do cp "/bin/$tool" "$root/bin/"; done
out=$(systemd-analyze verify --root="$root" --man=no \
	edgepub.service edgepub-certs.path edgepub-certs.service edgepub-fleet.service 2>&1) || fail "systemd-analyze verify: $out"
if [ -n "$out" ]; then
	fail "systemd-analyze verify complained: $out"
else
	echo "units verify cleanly"
fi

step "systemd-analyze security --offline=true"
for unit in edgepub.service edgepub-certs.service edgepub-fleet.service; do
	report=$(systemd-analyze security --offline=true "packaging/$unit" 2>&1 || true)
	unit_score=$(printf '%s\n' "$report" | sed -n "s/.*Overall exposure level for $unit: \([0-9.]*\).*/\1/p")
	echo "$unit exposure: ${unit_score:-?}"
	if [ -z "$unit_score" ] || ! awk -v s="$unit_score" 'BEGIN { exit !(s <= 2.0) }'; then
		printf '%s\n' "$report"
		fail "$unit: exposure ${unit_score:-unknown} is above 2.0"
	fi
	if [ "$unit" = edgepub.service ]; then score=$unit_score; fi
done

step "promtool: alert rules"
promtool check rules packaging/prometheus/edgepub-alerts.yml || fail "promtool check rules"
(cd packaging/prometheus && promtool test rules edgepub-alerts_test.yml) || fail "promtool test rules"

step "journald catalog"
mkdir -p "$scratch/cat/usr/lib/systemd/catalog"
cp packaging/edgepub.catalog "$scratch/cat/usr/lib/systemd/catalog/"
journalctl --root="$scratch/cat" --update-catalog
listed=$(journalctl --root="$scratch/cat" --list-catalog)
for id in $(sed -n 's/^[[:space:]]*Msg[A-Za-z]*[[:space:]]*=[[:space:]]*"\([0-9a-f]\{32\}\)".*/\1/p' internal/logging/msgid.go); do
	printf '%s\n' "$listed" | grep -q "^$id " || fail "catalog lacks $id after journalctl --update-catalog"
done
echo "$(printf '%s\n' "$listed" | grep -c .) catalog entries compiled"

step "lintian $(deb amd64)"
# Tags lintian emits as E: or W: must be fixed or overridden with a reason.
lint=$(lintian --fail-on none "$(deb amd64)" 2>&1 | grep -v 'running with root privileges' || true)
printf '%s\n' "$lint"
if printf '%s\n' "$lint" | grep -q '^[EW]: '; then
	fail "lintian reports errors or warnings"
else
	echo "lintian: no errors or warnings"
fi

step "package contents"
expected="./usr/bin/edgepub
./usr/lib/systemd/system/edgepub.service
./usr/lib/systemd/system/edgepub-certs.path
./usr/lib/systemd/system/edgepub-certs.service
./usr/lib/systemd/system/edgepub-fleet.service
./usr/share/edgepub/prometheus/edgepub-alerts.yml
./usr/share/edgepub/journal/journal-upload.conf
./usr/share/edgepub/journal/journal-upload.service.conf
./usr/share/edgepub/journal/journal-remote.conf
./usr/share/edgepub/journal/journal-remote.service.conf
./usr/lib/systemd/catalog/edgepub.catalog
./etc/edgepub/config.yaml
./usr/share/doc/edgepub/copyright
./usr/share/doc/edgepub/changelog.Debian.gz
./usr/share/man/man1/edgepub.1.gz
./usr/share/lintian/overrides/edgepub"
modules=
for arch in $ARCHES; do
	pkg=$(deb "$arch")
	files=$(dpkg-deb --contents "$pkg" | awk '{ print $6 }')
	for path in $expected; do
		printf '%s\n' "$files" | grep -qxF "$path" || fail "$arch: $path missing"
	done
	[ "$(dpkg-deb --field "$pkg" Architecture)" = "$arch" ] || fail "$arch: control says $(dpkg-deb --field "$pkg" Architecture)"
	[ "$(dpkg-deb --field "$pkg" Version)" = "$VERSION-$REVISION" ] || fail "$arch: version $(dpkg-deb --field "$pkg" Version)"
	dpkg-deb --ctrl-tarfile "$pkg" | tar -xOf - ./conffiles | grep -qxF /etc/edgepub/config.yaml ||
		fail "$arch: /etc/edgepub/config.yaml is no conffile"

	x=$scratch/x-$arch
	mkdir -p "$x"
	dpkg-deb --extract "$pkg" "$x"
	bin=$x/usr/bin/edgepub
	machine=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
	case $arch in
	amd64) want_machine="Advanced Micro Devices X86-64" goarch=amd64 goarm= ;;
	arm64) want_machine=AArch64 goarch=arm64 goarm= ;;
	armhf) want_machine=ARM goarch=arm goarm=6 ;;
	armel) want_machine=ARM goarch=arm goarm=5 ;;
	esac
	[ "$machine" = "$want_machine" ] || fail "$arch: ELF machine $machine, want $want_machine"
	readelf -l "$bin" | grep -q INTERP && fail "$arch: binary is dynamically linked"
	settings=$(go version -m "$bin")
	printf '%s\n' "$settings" | grep -q "GOARCH=$goarch\$" || fail "$arch: not built for GOARCH=$goarch"
	if [ -n "$goarm" ]; then
		printf '%s\n' "$settings" | grep -q "GOARM=$goarm\$" || fail "$arch: not built for GOARM=$goarm"
	fi
	printf '%s\n' "$settings" | grep -q -- "-trimpath=true" || fail "$arch: not built with -trimpath"
	printf '%s\n' "$settings" | grep -q "CGO_ENABLED=0" || fail "$arch: not built with CGO_ENABLED=0"
	modules="$modules $(printf '%s\n' "$settings" | awk '$1 == "dep" { print $2 }')"
	echo "$arch: contents, $machine${goarm:+ GOARM=$goarm}, static"
done
for mod in $(printf '%s\n' $modules | sort -u); do
	# Major-version suffixes (/v3) are not part of the copyright pattern.
	base=$(printf '%s' "$mod" | sed 's,/v[0-9]*$,,')
	grep -qF "$base/*" packaging/copyright || fail "packaging/copyright does not list $mod, which is compiled into edgepub"
done

step "edgepub version (arm64, armhf and armel under qemu-user)"
for arch in $ARCHES; do
	bin=$scratch/x-$arch/usr/bin/edgepub
	case $arch in
	amd64) run="" want="linux/amd64" ;;
	arm64) run=qemu-aarch64-static want="linux/arm64" ;;
	armhf) run=qemu-arm-static want="linux/arm GOARM=6" ;;
	armel) run=qemu-arm-static want="linux/arm GOARM=5" ;;
	esac
	got=$($run "$bin" version 2>&1) || fail "$arch: edgepub version failed: $got"
	echo "$arch: $got"
	case $got in
	*"$VERSION"*"$want"*) ;;
	*) fail "$arch: 'edgepub version' says \"$got\", want version $VERSION and $want" ;;
	esac
done

step "a simulated run of the ARM binaries under qemu-user against a local broker"
packaging/test/qemu-run.sh qemu-aarch64-static "$scratch/x-arm64/usr/bin/edgepub" || fail "arm64 simulated run"
packaging/test/qemu-run.sh qemu-arm-static "$scratch/x-armhf/usr/bin/edgepub" || fail "armhf simulated run"

step "maintainer scripts"
for script in packaging/scripts/*; do
	sh -n "$script" || fail "$script: syntax error"
done
echo "syntax ok"

if [ "$failures" -ne 0 ]; then
	printf '\n%d packaging check(s) failed\n' "$failures" >&2
	exit 1
fi
printf '\nall packaging checks passed (edgepub %s-%s, exposure %s)\n' "$VERSION" "$REVISION" "$score"
