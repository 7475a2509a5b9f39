#!/bin/sh
# Boots the amd64 package on a real kernel and pulls the plug on it: a
# Debian 12 VM (Debian's linux-image-amd64, systemd 252, Mosquitto) under
# qemu, edgepub running as the packaged service, and a persistent subscriber
# inside the VM whose stream leaves through a virtio console to a file on
# the host, so what it saw survives when the VM's page cache does not.
#
#   - the image is made once per run from a debootstrapped root (cached) with
#     the package installed (dpkg in a chroot: the postinst creates the user
#     and enables the units; the first boot then starts edgepub fresh);
#   - the first boot checks the edgepub user, StateDirectory= and READY=1
#     under the real systemd;
#   - then the power-cut test (packaging/vm_test.go, TestVMPowerCuts): readings
#     at 20/s, the broker stopped in some cycles, the qemu process SIGKILLed at
#     random moments placed in guest time, once with outbox.sync_window at
#     its default and once at 10ms; then a last boot in which the watchdog
#     kills a stalled daemon, and a drain.
#
# No network: qemu runs with -nodefaults and no -netdev; the broker and the
# subscriber use the guest's loopback.
#
# Usage (root):  packaging/test/vm.sh [edgepub_<version>_amd64.deb]
#   Without an argument it runs `make deb DEB_ARCHES=amd64` first.
#   CACHE=/var/cache/edgepub-test  where the Debian 12 root is kept (beside
#                                  the container test's); the first run
#                                  debootstraps it (~3 min, needs the mirror).
#   CYCLES=12                      power cuts with the default sync_window;
#   CYCLES_FAST=8                  and with sync_window 10ms.
#   ACCEL=kvm|tcg                  skip the KVM probe.
#   KEEP=1                         keep the work dir (image, console logs).
# Needs: debootstrap qemu-system-x86 e2fsprogs openssl make go.
set -eu

cd "$(dirname "$0")/../.."
CACHE=${CACHE:-/var/cache/edgepub-test}
base=$CACHE/bookworm-vm
# Packages the cached root must contain; changing the list rebuilds it.
include=systemd,systemd-sysv,dbus,udev,kmod,adduser,mosquitto,mosquitto-clients,openssl,procps,linux-image-amd64,initramfs-tools
started=$(date +%s)

say() { printf '[%3ds] %s\n' $(($(date +%s) - started)) "$*"; }
die() {
	printf '[%3ds] FAIL: %s\n' $(($(date +%s) - started)) "$*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, image ownership)"
for tool in debootstrap qemu-system-x86_64 mkfs.ext4 openssl; do
	command -v $tool >/dev/null || die "$tool is missing: apt-get install debootstrap qemu-system-x86 e2fsprogs openssl"
done

work=$(mktemp -d /var/tmp/edgepub-vm.XXXXXX)
root=$work/root
cleanup() {
	if [ "${KEEP:-}" = 1 ]; then
		say "kept $work"
		return
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the package ----
if [ $# -ge 1 ]; then
	deb=$(realpath "$1")
else
	say "building the amd64 package"
	make -s deb DEB_ARCHES=amd64 PKGDIR="$work/pkg" >/dev/null
	deb=$(ls "$work"/pkg/edgepub_*_amd64.deb)
fi

# ---- Debian 12 root with a kernel, debootstrapped once ----
if [ "$(cat "$base/.edgepub-include" 2>/dev/null)" != "$include" ]; then
	say "debootstrap bookworm with linux-image-amd64 into $base (once)"
	rm -rf "$base" "$base.tmp"
	mkdir -p "$CACHE"
	debootstrap --variant=minbase --include="$include" bookworm "$base.tmp" http://deb.debian.org/debian >"$CACHE/debootstrap-vm.log" 2>&1 ||
		die "debootstrap failed, see $CACHE/debootstrap-vm.log"
	# An initrd with only what this VM needs: Debian's (MODULES=most) is
	# five times larger, and unpacking it takes seconds under TCG.
	sed -i 's/^MODULES=.*/MODULES=list/; s/^COMPRESS=.*/COMPRESS=gzip/' "$base.tmp/etc/initramfs-tools/initramfs.conf"
	printf 'virtio_pci\nvirtio_blk\next4\nvirtio_console\n' >>"$base.tmp/etc/initramfs-tools/modules"
	chroot "$base.tmp" update-initramfs -u >>"$CACHE/debootstrap-vm.log" 2>&1 || die "update-initramfs failed, see $CACHE/debootstrap-vm.log"
	# Half the root is drivers for hardware the VM lacks, and downloaded
	# packages: every run copies the root and makes an image of it.
	chroot "$base.tmp" apt-get clean
	kernel_dir=$(ls -d "$base.tmp"/lib/modules/*/kernel)
	rm -rf "$kernel_dir"/sound "$kernel_dir"/drivers/net "$kernel_dir"/drivers/gpu "$kernel_dir"/drivers/media \
		"$kernel_dir"/drivers/infiniband "$kernel_dir"/drivers/scsi "$kernel_dir"/drivers/usb "$kernel_dir"/net/wireless \
		"$kernel_dir"/net/bluetooth "$kernel_dir"/net/mac80211 "$base.tmp"/usr/share/locale/* "$base.tmp"/usr/share/doc/*
	chroot "$base.tmp" depmod -a "$(basename "$(dirname "$kernel_dir")")"
	echo "$include" >"$base.tmp/.edgepub-include"
	mv "$base.tmp" "$base"
fi
say "copying the root"
cp -a --reflink=auto "$base" "$root"
kernel=$(ls "$root"/boot/vmlinuz-* | tail -n1)
initrd=$(ls "$root"/boot/initrd.img-* | tail -n1)
cp "$kernel" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"

echo edgepub-vm >"$root/etc/hostname"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
# Nothing in the VM waits for a network that is not there.
ln -sf /dev/null "$root/etc/systemd/system/systemd-networkd-wait-online.service"
ln -sf /dev/null "$root/etc/systemd/system/apt-daily.timer"
ln -sf /dev/null "$root/etc/systemd/system/apt-daily-upgrade.timer"
# The virtio consoles carry data, not logins (systemd would start a getty on
# hvc0), and there is no screen.
# Nobody logs in either: without these a TCG boot is a few seconds shorter.
for unit in serial-getty@hvc0.service serial-getty@ttyS0.service getty@tty1.service systemd-logind.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

# ---- PKI as in the tutorial (openssl, X.509 v1, CN only) ----
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
) >"$work/pki.log" 2>&1 || die "openssl failed: $(cat "$work/pki.log")"
mkdir -p "$root/etc/mosquitto/certs" "$root/root/monitor"
cp "$pki/ca.crt" "$pki/server.crt" "$pki/server.key" "$root/etc/mosquitto/certs/"
cp "$pki/ca.crt" "$pki/monitor.crt" "$pki/monitor.key" "$root/root/monitor/"

# The broker as in the tutorial, persistent so the subscriber's session
# outlives a broker stop.
cat >"$root/etc/mosquitto/conf.d/vmtest.conf" <<'EOF'
listener 8883 127.0.0.1
cafile /etc/mosquitto/certs/ca.crt
certfile /etc/mosquitto/certs/server.crt
keyfile /etc/mosquitto/certs/server.key
require_certificate true
use_identity_as_username true
acl_file /etc/mosquitto/vmtest.acl
max_queued_messages 0
log_dest syslog
log_type error
log_type warning
log_type notice
log_type information
log_type subscribe
EOF
printf 'pattern readwrite %%u/#\nuser monitor\ntopic read #\n' >"$root/etc/mosquitto/vmtest.acl"

# The whole journal also goes to the serial console, a file on the host, to
# see what happened in a boot that failed.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nForwardToConsole=yes\nTTYPath=/dev/ttyS0\nMaxLevelConsole=info\n' >"$root/etc/systemd/journald.conf.d/vmtest.conf"

# ---- the guest side of the test: an agent and the subscriber ----
# The observers run at real-time priority above edgepub, so that in a
# starved guest what reaches the host is not behind what edgepub did: the
# agent's clock marks, the journal and the outbox copy (70), the subscriber
# (60) and the broker (50). The
# subscriber outranks the broker, so it takes each reading off its socket
# and writes it to the host before the broker goes on to send the PUBACK:
# a reading the broker acknowledged is then on the host, and one missing
# there was never acknowledged. (At normal priority the subscriber once
# lagged 11 s behind the broker, and the readings acknowledged in that time
# died with the broker's memory at the cut.)
mkdir -p "$root/etc/systemd/system/mosquitto.service.d"
printf '[Service]\nCPUSchedulingPolicy=fifo\nCPUSchedulingPriority=50\n' >"$root/etc/systemd/system/mosquitto.service.d/vmtest.conf"
# hvc0: the subscriber's stream; hvc1: the guest's clock every 20 ms and the
# agent's events; hvc2: edgepub's journal as JSON (vmtest-journal). The plan
# for a boot comes from the kernel command line (vmtest.*), so the host needs
# no channel in.
cat >"$root/usr/local/sbin/vmtest-agent" <<'EOF'
#!/bin/bash
# The clock marks come from bash's $EPOCHREALTIME and a read timeout on a
# FIFO, so no process is forked per mark.
exec 4>/dev/hvc1
ev() { echo "e $EPOCHREALTIME $*" >&4; }
param() { sed -n "s/.*\<vmtest\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
mkfifo -m 600 /run/vmtest-tick
exec 3<>/run/vmtest-tick
(while :; do echo "m $EPOCHREALTIME" >&4; read -t 0.02 -u 3; done) &
ev boot "$(cat /proc/sys/kernel/random/boot_id)"

status() { systemctl show -p StatusText --value edgepub.service; }
until systemctl is-active -q edgepub.service; do
	if [ "$(systemctl show -p ActiveState --value edgepub.service)" = failed ]; then
		ev edgepub-failed
	fi
	read -t 0.1 -u 3
done
pid=$(systemctl show -p MainPID --value edgepub.service)
# With the guest's uptime: how long the boot took to READY=1.
ev edgepub-active "$(cut -d' ' -f1 /proc/uptime) $pid"
ev statedir "$(stat -c %U:%a /var/lib/edgepub) $(ps -o user= -p "$pid")"
until status | grep -q '^connected'; do read -t 0.1 -u 3; done
ev connected "$(status)"

stop=$(param stop)
if [ -n "$stop" ]; then
	read -t "$stop" -u 3
	ev stop-begin
	systemctl stop mosquitto.service
	ev stop-end
fi
if [ "$(param watchdog)" = 1 ]; then
	# A stalled main loop: the watchdog kills edgepub and systemd starts it
	# again, within the boot, so seq must continue without a gap.
	systemctl reset-failed edgepub.service
	restarts=$(systemctl show -p NRestarts --value edgepub.service)
	mkdir -p /run/systemd/system/edgepub.service.d
	cp /root/vmtest-stall.conf /run/systemd/system/edgepub.service.d/
	systemctl daemon-reload
	systemctl restart edgepub.service
	ev stall-begin
	until [ "$(systemctl show -p NRestarts --value edgepub.service)" -gt "$restarts" ]; do read -t 0.2 -u 3; done
	ev watchdog-restart "$(journalctl -b -q -o cat -u edgepub.service | grep -c 'Watchdog timeout')"
	rm /run/systemd/system/edgepub.service.d/vmtest-stall.conf
	systemctl daemon-reload
	systemctl restart edgepub.service
	until status | grep -q '^connected'; do read -t 0.1 -u 3; done
fi
if [ "$(param drain)" = 1 ]; then
	# The backlog is delivered, then a clean stop acks the rest.
	until status | grep -q 'backlog [0-9]\{1,2\}\( \|$\)'; do read -t 0.2 -u 3; done
	ev backlog-low "$(status)"
	systemctl stop edgepub.service
	ev drained "$(systemctl show -p Result --value edgepub.service)"
	# What a real kernel offers the file-backed sensor types here: a thermal
	# zone for `soc`, and iio_dummy for `iio`, if Debian's kernel has them.
	zone=$(ls -d /sys/class/thermal/thermal_zone* 2>/dev/null | head -n1)
	if [ -n "$zone" ]; then
		printf 'sensors:\n  - {name: soc, type: soc, path: %s/temp}\n' "$zone" >/run/vmtest-soc.yaml
		ev thermal "$zone $(cat "$zone/temp") $(edgepub sensors read --json --config /run/vmtest-soc.yaml 2>&1 | tr -d '\n')"
	else
		ev thermal none
	fi
	ev iio-dummy "$(modprobe -n iio_dummy 2>&1 | tr -d '\n' || true)"
	systemd-analyze blame --no-pager 2>&1 | head -n 20 >/dev/ttyS0
	read -t 2 -u 3
	systemctl poweroff
fi
wait
EOF
chmod 0755 "$root/usr/local/sbin/vmtest-agent"
cat >"$root/etc/systemd/system/vmtest-agent.service" <<'EOF'
[Unit]
Description=edgepub VM test: guest clock marks and events to the host
DefaultDependencies=no
Requires=dev-hvc1.device
After=dev-hvc1.device systemd-journald.service

[Service]
ExecStart=/usr/local/sbin/vmtest-agent
CPUSchedulingPolicy=fifo
CPUSchedulingPriority=70

[Install]
WantedBy=sysinit.target
EOF
# edgepub's journal goes out from the start of the boot (-n all) once
# journald has moved to the disk: a follower started before that flush
# missed a boot's first records.
cat >"$root/etc/systemd/system/vmtest-journal.service" <<'EOF'
[Unit]
Description=edgepub VM test: edgepub's journal to the host
DefaultDependencies=no
Requires=dev-hvc2.device
After=dev-hvc2.device systemd-journal-flush.service
Before=edgepub.service

[Service]
ExecStart=/bin/journalctl -b -f -n all -o json -u edgepub.service
StandardOutput=file:/dev/hvc2
CPUSchedulingPolicy=fifo
CPUSchedulingPriority=70

[Install]
WantedBy=multi-user.target
EOF
cat >"$root/etc/systemd/system/vmtest-sub.service" <<'EOF'
[Unit]
Description=edgepub VM test: persistent subscriber, its stream to the host
Requires=dev-hvc0.device
After=dev-hvc0.device mosquitto.service
Before=edgepub.service

[Service]
ExecStart=/usr/bin/mosquitto_sub -h 127.0.0.1 -p 8883 --cafile /root/monitor/ca.crt --cert /root/monitor/monitor.crt --key /root/monitor/monitor.key -i vmtest-sub -c -q 1 -t Kai/sensors/# -v
StandardOutput=file:/dev/hvc0
CPUSchedulingPolicy=fifo
CPUSchedulingPriority=60
# edgepub starts only once the subscription is in place (the broker logs it).
ExecStartPost=/bin/sh -c 'until journalctl -b -q --no-pager -o cat -u mosquitto.service | grep -qF "vmtest-sub 1 Kai/sensors/#"; do sleep 0.2; done'
Restart=always
RestartSec=200ms

[Install]
WantedBy=multi-user.target
EOF
# hvc3: every reading edgepub accepts, as it lands in the page cache (see
# packaging/test/vmtest-outbox-copy).
install -m 0755 packaging/test/vmtest-outbox-copy "$root/usr/local/sbin/"
cat >"$root/etc/systemd/system/vmtest-outbox.service" <<'EOF'
[Unit]
Description=edgepub VM test: the readings edgepub accepts, to the host
DefaultDependencies=no
Requires=dev-hvc3.device
After=dev-hvc3.device local-fs.target
Before=edgepub.service

[Service]
Type=exec
ExecStart=/usr/local/sbin/vmtest-outbox-copy
CPUSchedulingPolicy=fifo
CPUSchedulingPriority=70

[Install]
WantedBy=multi-user.target
EOF
# The configuration is written at every boot from the kernel command line
# (vmtest.sync_window) before edgepub starts.
cat >"$root/usr/local/sbin/vmtest-config" <<'EOF'
#!/bin/sh
window=$(sed -n 's/.*\<vmtest\.sync_window=\([^ ]*\).*/\1/p' /proc/cmdline 2>/dev/null)
cat >/etc/edgepub/config.yaml <<CONF
broker:
  urls: [ssl://127.0.0.1:8883]
  start_jitter: 0s
  backoff_min: 200ms
  backoff_max: 1s
certs:
  dir: /home/kai/mqtt-certs
outbox:
  sync_window: ${window:-1s}
presence:
  health_interval: 0s
clock:
  # The VM has no NTP: its clock is the host's, never "synced"; readings go
  # out at once, marked time_synced:false.
  hold_unsynced: 0s
sensors:
  - name: environment
    type: sim-bme280
    interval: 50ms
    timeout: 40ms
CONF
EOF
chmod 0755 "$root/usr/local/sbin/vmtest-config"
cat >"$root/etc/systemd/system/vmtest-config.service" <<'EOF'
[Unit]
Description=edgepub VM test: configuration from the kernel command line
Before=edgepub.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vmtest-config

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$root/etc/edgepub"
chroot "$root" /usr/local/sbin/vmtest-config
execstart=$(sed -n 's/^ExecStart=//p' packaging/edgepub.service)
mkdir -p "$root/etc/systemd/system/edgepub.service.d"
printf '[Unit]\nAfter=vmtest-sub.service vmtest-config.service\n' >"$root/etc/systemd/system/edgepub.service.d/10-vmtest.conf"
# For the watchdog check: a main loop that stalls after 3 s.
printf '[Service]\nExecStart=\nExecStart=%s --debug-stall-after 3s\nWatchdogSec=5s\n' "$execstart" >"$root/root/vmtest-stall.conf"

# As on Raspberry Pi OS: sensor groups and the user kai with the client
# certificates in a private home; then the package, as dpkg installs it
# on an image.
cp "$deb" "$root/root/edgepub.deb"
chroot "$root" sh -ec '
	for g in i2c gpio spi; do groupadd --system "$g"; done
	useradd --create-home --shell /bin/bash kai
	chmod 0700 /home/kai
	install -d -o kai -g kai -m 0700 /home/kai/mqtt-certs
	chown mosquitto:mosquitto /etc/mosquitto/certs/server.key
	chmod 0600 /etc/mosquitto/certs/server.key
	systemctl enable -q vmtest-agent.service vmtest-journal.service vmtest-sub.service vmtest-outbox.service vmtest-config.service
	DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold /root/edgepub.deb' >"$work/install.log" 2>&1 ||
	die "install in the image failed: $(cat "$work/install.log")"
for f in ca.crt Kai.crt Kai.key; do
	install -m 0600 "$pki/$f" "$root/home/kai/mqtt-certs/$f"
done
chroot "$root" chown -R kai:kai /home/kai/mqtt-certs
[ ! -e "$root/var/lib/edgepub" ] || die "the package created /var/lib/edgepub before the first start"

say "making the ext4 image"
mkfs.ext4 -q -L edgepub-vm -d "$root" "$work/disk.img" 2G || die "mkfs.ext4 -d failed"
rm -rf "$root"

# ---- KVM where it works, TCG otherwise ----
# A short boot with KVM: the kernel's first console line within 10 s means
# KVM works (on nested setups it hangs or fails to set MSRs).
if [ -z "${ACCEL:-}" ]; then
	ACCEL=tcg
	if [ -w /dev/kvm ]; then
		timeout 10 qemu-system-x86_64 -accel kvm -m 256 -nodefaults -no-user-config -display none \
			-kernel "$work/vmlinuz" -append 'console=ttyS0 panic=-1' -serial "file:$work/kvm-probe.log" \
			-no-reboot >/dev/null 2>&1 || true
		grep -q 'Linux version' "$work/kvm-probe.log" 2>/dev/null && ACCEL=kvm
	fi
fi
say "accelerator: $ACCEL"

say "power-cut test: ${CYCLES:-12} cuts with the default sync_window, ${CYCLES_FAST:-8} with 10ms"
# Up to 2 minutes a cut on a busy machine (boot, run, cut), and the drain.
limit=$(((${CYCLES:-12} + ${CYCLES_FAST:-8}) * 2 + 20))m
EDGEPUB_VM_DIR=$work EDGEPUB_VM_ACCEL=$ACCEL EDGEPUB_VM_SMP=${SMP:-1} EDGEPUB_VM_CYCLES=${CYCLES:-12} EDGEPUB_VM_CYCLES_FAST=${CYCLES_FAST:-8} \
	go test -count=1 -v -timeout $limit -run 'TestVM' ./packaging/ || die "the VM test failed; console logs in $work (KEEP=1 keeps them)"
say "vm: all checks passed"
