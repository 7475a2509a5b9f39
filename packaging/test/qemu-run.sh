#!/bin/sh
# A short simulated run of an ARM build under qemu-user against a local
# Mosquitto set up as the seed tutorial says (mTLS, CN as user name,
# pattern readwrite %u/#), on 127.0.0.1 only: the readings must arrive.
#
# Usage: packaging/test/qemu-run.sh EMULATOR BINARY    e.g.
#        packaging/test/qemu-run.sh qemu-aarch64-static dist/arm64/edgepub
# Needs: mosquitto, mosquitto-clients, the emulator; a native edgepub is
# not needed: the ARM binary makes its own certificates (certs init).
set -eu
emu=$1
bin=$2
work=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

"$emu" "$bin" certs init "$work/pki" --host 127.0.0.1 --client Pi --client monitor >/dev/null
port=$(shuf -i 20000-60000 -n 1)
while ss -ltn | grep -q ":$port "; do port=$(shuf -i 20000-60000 -n 1); done
printf 'pattern readwrite %%u/#\nuser monitor\ntopic read #\n' >"$work/acl"
cat >"$work/mosquitto.conf" <<CONF
allow_anonymous false
acl_file $work/acl
listener $port 127.0.0.1
cafile $work/pki/ca.crt
certfile $work/pki/server.crt
keyfile $work/pki/server.key
require_certificate true
use_identity_as_username true
CONF
[ "$(id -u)" = 0 ] && sed -i '1i user root' "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 50); do
	grep -q " running" "$work/mosquitto.log" && break
	sleep 0.1
done

mosquitto_sub -h 127.0.0.1 -p "$port" --cafile "$work/pki/ca.crt" --cert "$work/pki/monitor.crt" \
	--key "$work/pki/monitor.key" -t 'Pi/sensors/#' -v >"$work/received" 2>&1 &
pids="$pids $!"

mkdir -p "$work/certs"
cp "$work/pki/ca.crt" "$work/pki/Pi.crt" "$work/pki/Pi.key" "$work/certs/"
cat >"$work/config.yaml" <<CONF
broker:
  urls: ["ssl://127.0.0.1:$port"]
  start_jitter: 0s
certs:
  dir: $work/certs
state_dir: $work/state
sensors:
  - {name: environment, type: sim-bme280, interval: 200ms}
  - {name: soc, type: sim-soc, interval: 200ms}
CONF
"$emu" "$bin" run --config "$work/config.yaml" >"$work/edgepub.log" 2>&1 &
epid=$!
pids="$pids $epid"

for _ in $(seq 150); do
	[ "$(grep -c '"seq"' "$work/received" || true)" -ge 10 ] && break
	sleep 0.1
done
kill -TERM "$epid"
wait "$epid" || { echo "edgepub under $emu did not exit cleanly on SIGTERM" >&2; cat "$work/edgepub.log" >&2; exit 1; }
n=$(grep -c '"seq"' "$work/received" || true)
if [ "$n" -lt 10 ]; then
	echo "under $emu only $n readings arrived" >&2
	cat "$work/edgepub.log" "$work/mosquitto.log" >&2
	exit 1
fi
echo "$n readings from $bin under $emu, e.g. $(head -1 "$work/received" | cut -c1-110)"
