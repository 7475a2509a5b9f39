#!/usr/bin/env bash
# The whole suite as `make test` and CI run it, in about 20 minutes rather
# than 30: the VM power-cut rig (packaging/test/vm.sh, ~16 min, one core for
# qemu) runs beside `go test -race ./...`, whose length is certs/renew's
# 10-minute continuous-renewal test and which mostly waits after its first
# minutes; the packaging checks and the container follow go test. The VM's
# output goes to dist/test-vm.log and is printed when it has ended.
#
# Root, with the packages of .ci/packages.txt (make test-deps).
set -euo pipefail
cd "$(dirname "$0")/.."

# One amd64 package for the VM, built before anything else writes dist/.
rm -rf dist/test-vm
make -s deb DEB_ARCHES=amd64 PKGDIR=dist/test-vm >/dev/null
deb=$(ls dist/test-vm/edgepub_*_amd64.deb)

echo "test: the VM rig runs beside go test; its log: dist/test-vm.log"
# Its own session, so that a failure here stops qemu and the VM's go test too.
setsid packaging/test/vm.sh "$deb" >dist/test-vm.log 2>&1 &
vm=$!
vm_done() {
	local rc=0
	wait "$vm" || rc=$?
	echo "---- make test-vm (dist/test-vm.log) ----"
	cat dist/test-vm.log
	return "$rc"
}
trap 'kill -- -"$vm" 2>/dev/null || true' EXIT

go test -race -count=1 -timeout 20m ./...
make test-packaging
make test-nspawn
vm_done
trap - EXIT
echo "test: all passed"
