#!/bin/sh
# Installs the amd64 package into a booted Debian 12 container (systemd 252,
# systemd-nspawn) and checks it the way a Raspberry Pi runs it:
#
#   - install with the postinst: system user "edgepub" in i2c/gpio/spi,
#     units enabled and started, catalog compiled;
#   - the service reaches active (running) through READY=1 as the edgepub
#     user, `systemctl status` shows its STATUS= line, and the certificates
#     from a 0700 /home/kai/mqtt-certs arrive through LoadCredential=;
#   - journald holds native records with structured fields (MESSAGE_ID,
#     DEVICE, PRIORITY) and `journalctl -x` shows the catalog text;
#   - readings reach a Mosquitto broker on the container's loopback
#     (Kai/sensors/<sensor>, JSON with "seq")
#     (TLS listener as in the seed: require_certificate,
#     use_identity_as_username, ACL %u/#) with simulated sensors;
#   - `systemctl reload` keeps the process, renewed certificates restart it
#     (edgepub-certs.path), a stalled main loop (--debug-stall-after) is
#     killed by the watchdog and restarted;
#   - `edgepub setup --cert-dir DIR` moves the service to another user's
#     certificate folder (drop-ins, config), and `edgepub check` agrees;
#   - an upgrade to a higher version restarts the service and keeps the
#     outbox in /var/lib/edgepub and the edited conffile;
#   - journals in one place: the shipped systemd-journal-upload and
#     systemd-journal-remote configuration carries edgepub's records over
#     HTTPS (certificates from the devices' CA) to a journal-remote on the
#     container's loopback, where MESSAGE_ID and DEVICE= find them, among
#     them a certificate expiring (Debian 12's journal-remote does not
#     check client certificates: see packaging/journal/journal-remote.conf);
#   - the optional edgepub-fleet.service is installed disabled, starts with
#     the monitor certificate and serves the device's state on /metrics;
#   - `apt-get remove` keeps state, `apt-get purge` leaves nothing behind
#     but a certificate folder the administrator put under /etc/edgepub.
#
# Usage (root):  packaging/test/nspawn.sh [edgepub_<version>_amd64.deb]
#   Without an argument it runs `make deb DEB_ARCHES=amd64` first.
#   CACHE=/var/cache/edgepub-test   where the Debian 12 root is kept; the
#                                   first run debootstraps it (~45 s, needs
#                                   the Debian mirror), later runs copy it.
#   KEEP=1                          leave the container running at the end.
#   SKIP_PUBLISH_CHECK=1            skip the broker check (for a stand-in
#                                   binary that does not publish).
# Needs: debootstrap systemd-container (systemd-nspawn) util-linux (nsenter)
# openssl make go. The container has a private network with loopback only.
set -eu

cd "$(dirname "$0")/../.."
repo=$(pwd)
CACHE=${CACHE:-/var/cache/edgepub-test}
# Packages the cached root must contain; each list has a root of its own,
# so branches with different lists do not rebuild each other's.
include=systemd,systemd-sysv,dbus,adduser,mosquitto,mosquitto-clients,openssl,procps,systemd-journal-remote
base=$CACHE/bookworm-$(printf '%s' "$include" | cksum | cut -d' ' -f1)
started=$(date +%s)
failures=0

say() { printf '[%3ds] %s\n' $(($(date +%s) - started)) "$*"; }
fail() {
	printf '[%3ds] FAIL: %s\n' $(($(date +%s) - started)) "$*" >&2
	failures=$((failures + 1))
}
die() {
	fail "$*"
	exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, systemd-nspawn, nsenter)"
for tool in debootstrap systemd-nspawn nsenter openssl; do
	command -v $tool >/dev/null || die "$tool is missing: apt-get install debootstrap systemd-container util-linux openssl"
done

work=$(mktemp -d /var/tmp/edgepub-nspawn.XXXXXX)
root=$work/root
nspawn_pid=
cleanup() {
	if [ -n "$nspawn_pid" ] && [ "${KEEP:-}" = 1 ]; then
		say "container left running: nsenter -t $PID1 -a bash   (stop: kill $nspawn_pid; rm -rf $work)"
		return
	fi
	if [ -n "$nspawn_pid" ]; then
		kill -TERM "$nspawn_pid" 2>/dev/null || true
		# SIGTERM makes nspawn halt the container; give it time to shut down.
		for _ in $(seq 30); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
		kill -KILL "$nspawn_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- packages: the one under test and the same with a higher revision ----
if [ $# -ge 1 ]; then
	deb1=$(realpath "$1")
else
	say "building the amd64 package"
	make -s deb DEB_ARCHES=amd64 PKGDIR="$work/pkg" >/dev/null
	deb1=$(ls "$work"/pkg/edgepub_*_amd64.deb)
fi
version=$(dpkg-deb --field "$deb1" Version)
bumped=${version%-*}-$((${version##*-} + 1))
# The upgrade: identical contents under a higher Debian revision.
dpkg-deb --raw-extract "$deb1" "$work/repack"
sed -i "s/^Version: .*/Version: $bumped/" "$work/repack/DEBIAN/control"
dpkg-deb --root-owner-group --build "$work/repack" "$work/edgepub-2.deb" >/dev/null
deb2=$work/edgepub-2.deb
say "testing $(basename "$deb1"), upgrade to $bumped"

# ---- Debian 12 root, debootstrapped once and copied per run ----
if [ "$(cat "$base/.edgepub-include" 2>/dev/null)" != "$include" ]; then
	say "debootstrap bookworm into $base (once)"
	rm -rf "$base" "$base.tmp"
	mkdir -p "$CACHE"
	debootstrap --variant=minbase --include="$include" bookworm "$base.tmp" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 ||
		die "debootstrap failed, see $CACHE/debootstrap.log"
	echo "$include" >"$base.tmp/.edgepub-include"
	mv "$base.tmp" "$base"
fi
cp -a --reflink=auto "$base" "$root"
cp "$deb1" "$root/root/edgepub-1.deb"
cp "$deb2" "$root/root/edgepub-2.deb"
echo edgepub-test >"$root/etc/hostname"

# ---- PKI as in the seed tutorial (openssl, X.509 v1, CN only, no SAN) ----
pki=$work/pki
mkdir -p "$pki"
(
	cd "$pki"
	openssl genrsa -out ca.key 2048
	openssl req -x509 -new -key ca.key -sha256 -days 1825 -out ca.crt -subj "/CN=MQTT-CA"
	for cn in server:127.0.0.1 Kai:Kai monitor:monitor; do
		name=${cn%%:*}
		openssl genrsa -out "$name.key" 2048
		openssl req -new -key "$name.key" -out "$name.csr" -subj "/CN=${cn#*:}"
		openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" -days 825 -sha256
	done
	# Kai's key with a certificate that expires in 5 days, inside error_days.
	openssl x509 -req -in Kai.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out Kai-expiring.crt -days 5 -sha256
	# The log host (systemd-journal-remote): same CA, with the
	# subjectAltName systemd-journal-upload's libcurl checks.
	openssl genrsa -out logs.key 2048
	openssl req -new -key logs.key -out logs.csr -subj "/CN=127.0.0.1"
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >logs.ext
	openssl x509 -req -in logs.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out logs.crt -days 825 -sha256 -extfile logs.ext
	# An uploader whose certificate no CA of ours signed.
	openssl req -x509 -newkey rsa:2048 -nodes -keyout foreign.key -out foreign.crt -days 1 -subj "/CN=intruder"
) >"$work/pki.log" 2>&1 || die "openssl failed: $(cat "$work/pki.log")"

mkdir -p "$root/etc/mosquitto/certs" "$root/root/monitor"
cp "$pki/ca.crt" "$pki/server.crt" "$pki/server.key" "$root/etc/mosquitto/certs/"
cp "$pki/ca.crt" "$pki/monitor.crt" "$pki/monitor.key" "$root/root/monitor/"
cp "$pki/foreign.crt" "$pki/foreign.key" "$root/root/"

# The site's configuration exists before the package, as after a
# provisioning step: the service never sees the default broker address.
mkdir -p "$root/etc/edgepub/journal-remote"
cp "$pki/ca.crt" "$root/etc/edgepub/journal-remote/ca.crt"
cp "$pki/logs.crt" "$root/etc/edgepub/journal-remote/server.crt"
cp "$pki/logs.key" "$root/etc/edgepub/journal-remote/server.key"
cat >"$root/etc/edgepub/config.yaml" <<'EOF'
broker:
  urls: [ssl://127.0.0.1:8883]
  start_jitter: 0s
certs:
  dir: /home/kai/mqtt-certs
EOF

# Simulated sensors: the packaged ExecStart plus --simulate.
execstart=$(sed -n 's/^ExecStart=//p' packaging/edgepub.service)
mkdir -p "$root/etc/systemd/system/edgepub.service.d"
printf '[Service]\nExecStart=\nExecStart=%s --simulate\n' "$execstart" \
	>"$root/etc/systemd/system/edgepub.service.d/10-simulate.conf"

# ---- boot ----
say "booting the container"
systemd-nspawn -D "$root" --boot --register=no --keep-unit -q --console=read-only \
	--private-network >"$work/console.log" 2>&1 &
nspawn_pid=$!
# The container's init is the nspawn process's child once it runs systemd
# (before that, the child is nspawn's own helper).
PID1=
for _ in $(seq 100); do
	for child in $(ps -o pid= --ppid "$nspawn_pid" 2>/dev/null); do
		[ "$(cat "/proc/$child/comm" 2>/dev/null)" = systemd ] && PID1=$child
	done
	[ -n "$PID1" ] && break
	sleep 0.2
done
[ -n "$PID1" ] || die "container did not start: $(cat "$work/console.log")"

# ct runs a command inside the container with a clean environment.
ct() { nsenter -t "$PID1" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb "$@"; }
# wait_for SECONDS CMD...: retry CMD (inside the container) until it succeeds.
wait_for() {
	limit=$1
	shift
	i=0
	while [ "$i" -lt "$limit" ]; do
		ct "$@" >/dev/null 2>&1 && return 0
		sleep 1
		i=$((i + 1))
	done
	return 1
}
show() { ct systemctl show -p "$1" --value "$2"; }
diagnose() {
	ct systemctl status --no-pager -l edgepub.service edgepub-certs.path >&2 || true
	ct journalctl -b --no-pager -n 60 -u edgepub.service -u edgepub-certs.service >&2 || true
}

wait_for 60 sh -c 'state=$(systemctl is-system-running); [ "$state" = running ] || [ "$state" = degraded ]' ||
	die "container did not finish booting: $(ct systemctl is-system-running)"
say "booted: $(ct systemctl --version | head -n1)"

# The broker: a TLS listener on the container's loopback set up as in the
# seed tutorial (written now, not before boot: the key must first belong to
# the mosquitto user).
cat >"$root/etc/mosquitto/conf.d/test-broker.conf" <<EOF
listener 8883 127.0.0.1
cafile /etc/mosquitto/certs/ca.crt
certfile /etc/mosquitto/certs/server.crt
keyfile /etc/mosquitto/certs/server.key
require_certificate true
use_identity_as_username true
acl_file /etc/mosquitto/test-broker.acl
EOF
printf 'pattern readwrite %%u/#\nuser monitor\ntopic read #\n' >"$root/etc/mosquitto/test-broker.acl"
# As on Raspberry Pi OS: sensor groups, and the user kai whose home is
# private but holds the client certificates.
ct sh -ec '
	for g in i2c gpio spi; do groupadd --system "$g"; done
	useradd --create-home --shell /bin/bash kai
	chmod 0700 /home/kai
	install -d -o kai -g kai -m 0700 /home/kai/mqtt-certs
	chown mosquitto:mosquitto /etc/mosquitto/certs/server.key
	chmod 0600 /etc/mosquitto/certs/server.key
	systemctl restart mosquitto'
for f in ca.crt Kai.crt Kai.key; do
	install -m 0600 "$pki/$f" "$root/home/kai/mqtt-certs/$f"
done
ct chown -R kai:kai /home/kai/mqtt-certs
wait_for 20 systemctl is-active mosquitto || die "mosquitto did not start: $(ct journalctl -u mosquitto --no-pager -n 20)"

# ---- install ----
say "apt-get install $(basename "$deb1")"
ct sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold /root/edgepub-1.deb' \
	>"$work/install.log" 2>&1 || die "install failed: $(cat "$work/install.log")"
conf_sum=$(ct md5sum /etc/edgepub/config.yaml)

if wait_for 60 systemctl is-active edgepub.service; then
	say "edgepub.service active (running)"
else
	diagnose
	die "edgepub.service did not become active"
fi
[ "$(show Type edgepub.service)" = notify ] || fail "Type is not notify"
[ "$(show SubState edgepub.service)" = running ] || fail "SubState is $(show SubState edgepub.service), want running"
# STATUS= may follow READY=1 by a moment (e.g. once connected).
wait_for 30 sh -c '[ -n "$(systemctl show -p StatusText --value edgepub.service)" ]' || fail "no STATUS= text"
status_text=$(show StatusText edgepub.service)
ct systemctl status --no-pager edgepub.service | grep -q "Status: \"" ||
	fail "systemctl status shows no Status line"
say "status: $status_text"

main_pid=$(show MainPID edgepub.service)
[ "$(ct ps -o user= -p "$main_pid")" = edgepub ] || fail "the daemon runs as $(ct ps -o user= -p "$main_pid"), want edgepub"
uid=$(ct id -u edgepub)
[ "$uid" -lt 1000 ] || fail "edgepub is no system user (uid $uid)"
groups=$(ct id -nG edgepub)
for g in i2c gpio spi dialout; do
	case " $groups " in *" $g "*) ;; *) fail "edgepub is not in group $g ($groups)" ;; esac
done
# systemd gives the process the user's groups (initgroups), no
# SupplementaryGroups= needed.
proc_groups=" $(ct sed -n 's/^Groups:[[:space:]]*//p' "/proc/$main_pid/status") "
for g in i2c gpio spi dialout; do
	gid=$(ct getent group "$g" | cut -d: -f3)
	case $proc_groups in *" $gid "*) ;; *) fail "the daemon process lacks group $g ($gid): groups$proc_groups" ;; esac
done
ct ls /run/credentials/edgepub.service/certs_ca.crt /run/credentials/edgepub.service/certs_Kai.crt \
	/run/credentials/edgepub.service/certs_Kai.key >/dev/null || fail "credentials certs_* missing"
[ "$(show ActiveState edgepub-certs.path)" = active ] || fail "edgepub-certs.path is not active"
ct test -d /var/lib/edgepub || fail "no /var/lib/edgepub"
[ "$(ct stat -c %U:%a /var/lib/edgepub)" = edgepub:700 ] || fail "/var/lib/edgepub is $(ct stat -c %U:%a /var/lib/edgepub), want edgepub:700"
say "security inside systemd 252: $(ct systemd-analyze security edgepub.service 2>/dev/null | sed -n 's/.*Overall exposure level for edgepub.service: //p')"

# ---- journal ----
started_id=$(sed -n 's/^[[:space:]]*MsgStarted[[:space:]]*=[[:space:]]*"\([0-9a-f]*\)".*/\1/p' internal/logging/msgid.go)
record=$(ct journalctl -b -o json --no-pager _SYSTEMD_UNIT=edgepub.service MESSAGE_ID="$started_id" | tail -n1)
if [ -z "$record" ]; then
	fail "no journal record with MESSAGE_ID=$started_id (MsgStarted) from edgepub.service"
else
	for field in '"MESSAGE_ID":"'"$started_id"'"' '"DEVICE":"' '"PRIORITY":"6"' '"SYSLOG_IDENTIFIER":"edgepub"'; do
		printf '%s' "$record" | grep -qF "$field" || fail "started record lacks $field: $record"
	done
	printf '%s' "$record" | grep -qF '"_TRANSPORT":"journal"' || fail "record did not arrive over the native protocol: $record"
	say "journal: native record with MESSAGE_ID, DEVICE, PRIORITY"
fi
subject=$(sed -n "/^-- $started_id/,/^Subject:/s/^Subject: //p" packaging/edgepub.catalog)
explained=$(ct journalctl -b -x --no-pager MESSAGE_ID="$started_id")
printf '%s' "$explained" | grep -qF "Subject: $subject" && printf '%s' "$explained" | grep -qF "Defined-By: edgepub" ||
	fail "journalctl -x does not explain MsgStarted with the catalog entry: $explained"

# ---- journals in one place: systemd-journal-upload → systemd-journal-remote ----
# Both ends in this container, over HTTPS on its loopback, configured with
# the package's files as the README says: the log host's certificate from
# the devices' CA, the device's own MQTT certificate as the uploader's.
jdir=/usr/share/edgepub/journal
ct sh -ec "
	install -d -m 0700 /etc/edgepub/journal-upload
	cp /home/kai/mqtt-certs/ca.crt /etc/edgepub/journal-upload/ca.crt
	cp /home/kai/mqtt-certs/Kai.crt /etc/edgepub/journal-upload/client.crt
	cp /home/kai/mqtt-certs/Kai.key /etc/edgepub/journal-upload/client.key
	install -d /etc/systemd/journal-remote.conf.d /etc/systemd/journal-upload.conf.d \
		/etc/systemd/system/systemd-journal-remote.service.d /etc/systemd/system/systemd-journal-upload.service.d
	cp $jdir/journal-remote.conf /etc/systemd/journal-remote.conf.d/edgepub.conf
	cp $jdir/journal-remote.service.conf /etc/systemd/system/systemd-journal-remote.service.d/edgepub.conf
	cp $jdir/journal-upload.conf /etc/systemd/journal-upload.conf.d/edgepub.conf
	cp $jdir/journal-upload.service.conf /etc/systemd/system/systemd-journal-upload.service.d/edgepub.conf
	sed -i 's,^URL=.*,URL=https://127.0.0.1:19532,' /etc/systemd/journal-upload.conf.d/edgepub.conf
	systemctl daemon-reload
	systemctl enable --now systemd-journal-remote.socket
	systemctl enable --now systemd-journal-upload.service" >"$work/journal-remote.log" 2>&1 ||
	fail "setting up journal upload and remote failed: $(cat "$work/journal-remote.log")"
remote_dir=/var/log/journal/remote
if wait_for 60 sh -c "journalctl --directory=$remote_dir -o json MESSAGE_ID=$started_id DEVICE=Kai | grep -qF '\"_HOSTNAME\":\"edgepub-test\"'"; then
	say "journal-remote: edgepub's records from Kai arrived ($(ct ls $remote_dir | tr '\n' ' '))"
else
	ct systemctl status --no-pager -l systemd-journal-upload.service systemd-journal-remote.service >&2 || true
	ct journalctl -b --no-pager -n 30 -u systemd-journal-upload.service -u systemd-journal-remote.service >&2 || true
	fail "edgepub's started record (MESSAGE_ID=$started_id DEVICE=Kai) did not reach journal-remote within 60 s"
fi
# What Debian 12's build does with an uploader from another CA (it has no
# GnuTLS to check client certificates; the README says to firewall it): the
# uploader sends one marked record.
ct sh -c 'printf "__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=1\n_BOOT_ID=0123456789abcdef0123456789abcdef\nMESSAGE=upload from another CA\nEDGEPUB_TEST=foreign\n\n" "$(date +%s%6N)" |
	/lib/systemd/systemd-journal-remote --split-mode=none --output=/root/foreign.journal -' >"$work/foreign-upload.log" 2>&1 ||
	fail "cannot write the foreign uploader's journal: $(cat "$work/foreign-upload.log")"
# The shipped drop-in's URL= would clash with --url; the running uploader
# has read it already.
ct mv /etc/systemd/journal-upload.conf.d/edgepub.conf /root/journal-upload.conf.keep
ct timeout 20 /lib/systemd/systemd-journal-upload --follow=no --url=https://127.0.0.1:19532 --key=/root/foreign.key --cert=/root/foreign.crt \
	--trust=/etc/edgepub/journal-upload/ca.crt --file=/root/foreign.journal >>"$work/foreign-upload.log" 2>&1 || true
ct mv /root/journal-upload.conf.keep /etc/systemd/journal-upload.conf.d/edgepub.conf
if ct journalctl --directory=$remote_dir EDGEPUB_TEST=foreign -o cat | grep -q 'upload from another CA'; then
	say "journal-remote accepted an uploader with a certificate from another CA (this build checks no client certificates)"
else
	say "the record of an uploader with a certificate from another CA did not arrive: $(tail -n 2 "$work/foreign-upload.log" | tr '\n' ' ')"
fi
# A certificate inside error_days: the device logs it at start, and the log
# host lists it by MESSAGE_ID alone.
expiring_id=$(sed -n 's/^[[:space:]]*MsgCertExpiring[[:space:]]*=[[:space:]]*"\([0-9a-f]*\)".*/\1/p' internal/logging/msgid.go)
install -m 0600 "$pki/Kai-expiring.crt" "$root/home/kai/mqtt-certs/Kai.crt.new"
ct sh -c 'chown kai:kai /home/kai/mqtt-certs/Kai.crt.new && mv /home/kai/mqtt-certs/Kai.crt.new /home/kai/mqtt-certs/Kai.crt'
if wait_for 90 sh -c "journalctl --directory=$remote_dir -o json MESSAGE_ID=$expiring_id | grep -qF '\"DEVICE\":\"Kai\"'"; then
	say "journal-remote: journalctl --directory=$remote_dir MESSAGE_ID=$expiring_id lists Kai"
else
	fail "Kai's certificate expiring record (MESSAGE_ID=$expiring_id) did not reach journal-remote within 90 s"
fi
# The certificate change restarted edgepub (edgepub-certs.path).
wait_for 30 systemctl is-active edgepub.service || fail "edgepub not active after the certificate change"
main_pid=$(show MainPID edgepub.service)

# ---- publishing to the broker ----
if [ "${SKIP_PUBLISH_CHECK:-}" != 1 ]; then
	got=$(ct mosquitto_sub -h 127.0.0.1 -p 8883 --cafile /root/monitor/ca.crt --cert /root/monitor/monitor.crt \
		--key /root/monitor/monitor.key -t 'Kai/sensors/#' -C 1 -W 60 -v 2>&1) || true
	case $got in
	Kai/sensors/*'"seq":'*) say "broker received: $(printf '%s' "$got" | cut -c1-120)" ;;
	*) fail "no reading under Kai/sensors/# within 60 s: $got" ;;
	esac
fi

# ---- the fleet console as a service on the broker host ----
install -d -m 0700 "$root/etc/edgepub/monitor"
cp "$pki/ca.crt" "$pki/monitor.crt" "$pki/monitor.key" "$root/etc/edgepub/monitor/"
fleet_enabled=$(ct systemctl is-enabled edgepub-fleet.service 2>&1 || true)
[ "$fleet_enabled" = disabled ] || fail "edgepub-fleet.service is $fleet_enabled after install, want disabled"
ct systemctl start edgepub-fleet.service || fail "edgepub-fleet.service did not start"
if wait_for 30 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9643 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && grep -q "^edgepub_device_online{device=\"Kai\"} 1" <&3'; then
	say "edgepub-fleet.service: /metrics shows Kai online; exposure $(ct systemd-analyze security edgepub-fleet.service 2>/dev/null | sed -n 's/.*Overall exposure level for edgepub-fleet.service: //p')"
else
	ct systemctl status --no-pager -l edgepub-fleet.service >&2 || true
	ct journalctl --no-pager -n 20 -u edgepub-fleet.service >&2 || true
	fail "edgepub-fleet.service: /metrics on 127.0.0.1:9643 never showed Kai online"
fi
ct systemctl stop edgepub-fleet.service

# ---- reload keeps the process ----
ct systemctl reload edgepub.service || fail "systemctl reload failed"
sleep 2
[ "$(show MainPID edgepub.service)" = "$main_pid" ] || fail "reload replaced the process"
ct systemctl is-active -q edgepub.service || fail "not active after reload"

# ---- renewed certificates restart the service ----
invocation=$(show InvocationID edgepub.service)
ct su kai -c 'cd /home/kai/mqtt-certs && cp Kai.crt Kai.crt.new && mv Kai.crt.new Kai.crt'
if wait_for 40 sh -c "[ \"\$(systemctl show -p InvocationID --value edgepub.service)\" != $invocation ] && systemctl is-active -q edgepub.service"; then
	say "certificate change restarted edgepub"
else
	diagnose
	fail "changing /home/kai/mqtt-certs/Kai.crt did not restart edgepub"
fi

# ---- another certificate folder is one command: edgepub setup ----
ct sh -ec '
	useradd --create-home --shell /bin/bash anna
	chmod 0700 /home/anna
	install -d -o anna -g anna -m 0700 /home/anna/certs'
for f in ca.crt Kai.crt Kai.key; do
	install -m 0600 "$pki/$f" "$root/home/anna/certs/$f"
done
# Only anna's folder has it: its copy among the credentials shows which
# folder the service reads.
echo anna >"$root/home/anna/certs/owner.txt"
ct chown -R anna:anna /home/anna/certs
invocation=$(show InvocationID edgepub.service)
ct edgepub setup --cert-dir /home/anna/certs >"$work/setup.log" 2>&1 || fail "edgepub setup failed: $(cat "$work/setup.log")"
if wait_for 40 sh -c "[ \"\$(systemctl show -p InvocationID --value edgepub.service)\" != $invocation ] && systemctl is-active -q edgepub.service"; then
	say "edgepub setup --cert-dir /home/anna/certs restarted edgepub"
else
	diagnose
	fail "edgepub setup did not restart edgepub: $(cat "$work/setup.log")"
fi
ct test -e /run/credentials/edgepub.service/certs_owner.txt || fail "after setup the service does not read /home/anna/certs"
ct grep -q '^  dir: /home/anna/certs$' /etc/edgepub/config.yaml || fail "setup did not set certs.dir: $(ct grep -n 'dir:' /etc/edgepub/config.yaml)"
# check reads the same config and agrees with the running service.
ct edgepub check --config /etc/edgepub/config.yaml --no-sensors >"$work/check.log" 2>&1 ||
	fail "edgepub check after setup: $(cat "$work/check.log")"
invocation=$(show InvocationID edgepub.service)
ct su anna -c 'cd /home/anna/certs && cp Kai.crt Kai.crt.new && mv Kai.crt.new Kai.crt'
wait_for 40 sh -c "[ \"\$(systemctl show -p InvocationID --value edgepub.service)\" != $invocation ] && systemctl is-active -q edgepub.service" ||
	fail "changing /home/anna/certs/Kai.crt did not restart edgepub (PathChanged= of the setup drop-in)"
# The upgrade below must keep the configuration as setup left it.
conf_sum=$(ct md5sum /etc/edgepub/config.yaml)

# ---- the watchdog restarts a stalled daemon ----
printf '[Service]\nExecStart=\nExecStart=%s --simulate --debug-stall-after 3s\nWatchdogSec=5s\n' "$execstart" \
	>"$root/etc/systemd/system/edgepub.service.d/20-stall.conf"
ct systemctl daemon-reload
# Every start counts against StartLimitBurst=; the test starts more often
# than a device would.
ct systemctl reset-failed edgepub.service
ct systemctl restart edgepub.service || fail "restart with the stall drop-in failed"
restarts=$(show NRestarts edgepub.service)
since=$(ct date +%s)
if wait_for 60 sh -c "[ \$(systemctl show -p NRestarts --value edgepub.service) -gt $restarts ]"; then
	ct journalctl --no-pager -u edgepub.service --since "@$since" | grep -q 'Watchdog timeout' ||
		fail "the restart was not caused by the watchdog"
	say "stalled daemon killed by the watchdog and restarted"
else
	diagnose
	fail "a stalled daemon was not restarted within 60 s"
fi
rm "$root/etc/systemd/system/edgepub.service.d/20-stall.conf"
ct systemctl daemon-reload
ct systemctl reset-failed edgepub.service 2>/dev/null || true
ct systemctl restart edgepub.service || fail "restart without the stall drop-in failed"
wait_for 30 systemctl is-active edgepub.service || fail "edgepub not active again after the watchdog test"

# ---- upgrade keeps the outbox and the configuration ----
ct systemctl reset-failed edgepub.service
ct sh -c 'echo queued-before-upgrade > /var/lib/edgepub/upgrade-marker && chown edgepub: /var/lib/edgepub/upgrade-marker'
state_before=$(ct ls -A /var/lib/edgepub | sort)
main_pid=$(show MainPID edgepub.service)
say "upgrade to $bumped"
ct sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold /root/edgepub-2.deb' \
	>"$work/upgrade.log" 2>&1 || fail "upgrade failed: $(cat "$work/upgrade.log")"
[ "$(ct dpkg-query -W -f '${Version}' edgepub)" = "$bumped" ] || fail "installed version is not $bumped"
wait_for 30 systemctl is-active edgepub.service || fail "edgepub not active after the upgrade"
[ "$(show MainPID edgepub.service)" != "$main_pid" ] || fail "the upgrade did not restart edgepub"
[ "$(ct cat /var/lib/edgepub/upgrade-marker 2>/dev/null)" = queued-before-upgrade ] ||
	fail "the upgrade lost /var/lib/edgepub/upgrade-marker"
for f in $state_before; do
	ct test -e "/var/lib/edgepub/$f" || fail "the upgrade lost /var/lib/edgepub/$f"
done
[ "$(ct md5sum /etc/edgepub/config.yaml)" = "$conf_sum" ] || fail "the upgrade changed /etc/edgepub/config.yaml"

# ---- remove keeps state, purge leaves nothing ----
rm "$root/etc/systemd/system/edgepub.service.d/10-simulate.conf" # the test's own drop-in; purge removes setup's
ct systemctl disable --now systemd-journal-upload.service systemd-journal-remote.socket systemd-journal-remote.service >/dev/null 2>&1 || true
# What the administrator added under /etc/edgepub for the fleet is theirs to remove.
rm -r "$root/etc/edgepub/monitor" "$root/etc/edgepub/journal-upload" "$root/etc/edgepub/journal-remote"
rm "$root/etc/systemd/journal-remote.conf.d/edgepub.conf" "$root/etc/systemd/journal-upload.conf.d/edgepub.conf" \
	"$root/etc/systemd/system/systemd-journal-remote.service.d/edgepub.conf" \
	"$root/etc/systemd/system/systemd-journal-upload.service.d/edgepub.conf"
ct systemctl daemon-reload
ct sh -c 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q edgepub' >"$work/remove.log" 2>&1 ||
	fail "remove failed: $(cat "$work/remove.log")"
ct systemctl is-active -q edgepub.service && fail "edgepub still runs after remove"
ct getent passwd edgepub >/dev/null || fail "remove deleted the user"
ct test -e /var/lib/edgepub/upgrade-marker || fail "remove deleted /var/lib/edgepub"
ct test -e /etc/edgepub/config.yaml || fail "remove deleted the configuration"
ct test -e /usr/bin/edgepub && fail "remove left /usr/bin/edgepub"

say "apt-get purge edgepub"
ct rm /var/lib/edgepub/upgrade-marker # the test's own file
# A certificate folder the administrator keeps under /etc/edgepub.
ct sh -c 'mkdir -p /etc/edgepub/certs && echo kept > /etc/edgepub/certs/ca.crt'
ct sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q edgepub' >"$work/purge.log" 2>&1 ||
	fail "purge failed: $(cat "$work/purge.log")"
[ "$(ct cat /etc/edgepub/certs/ca.crt 2>/dev/null)" = kept ] || fail "purge deleted /etc/edgepub/certs, which the package did not create"
ct test -e /etc/edgepub/config.yaml && fail "purge left /etc/edgepub/config.yaml"
ct rm -r /etc/edgepub
ct getent passwd edgepub >/dev/null && fail "purge left the user edgepub"
ct getent group edgepub >/dev/null && fail "purge left the group edgepub"
ct grep -l edgepub /etc/passwd /etc/group /etc/shadow /etc/gshadow && fail "purge left edgepub in the user databases"
for path in /var/lib/edgepub /etc/edgepub /run/credentials/edgepub.service; do
	ct test -e "$path" && fail "purge left $path"
done
leftovers=$(ct find /etc /usr /var/lib -name '*edgepub*' 2>/dev/null || true)
[ -z "$leftovers" ] || fail "purge left: $leftovers"
[ -z "$(ct dpkg-query -W -f '${Status}' edgepub 2>/dev/null)" ] || fail "dpkg still knows edgepub: $(ct dpkg-query -W -f '${Status}' edgepub)"
[ "$(ct systemctl list-unit-files --no-legend 'edgepub*' | wc -l)" = 0 ] || fail "systemd still has edgepub unit files"
ct journalctl --list-catalog | grep -q "^$started_id" && fail "the catalog still lists edgepub's ids"
ct getent group i2c >/dev/null || fail "purge removed the group i2c, which it did not create"

took=$(($(date +%s) - started))
if [ "$failures" -ne 0 ]; then
	printf '\n%d nspawn check(s) failed (%d s)\n' "$failures" "$took" >&2
	exit 1
fi
printf '\nnspawn: all checks passed for %s (%d s)\n' "$(basename "$deb1")" "$took"
