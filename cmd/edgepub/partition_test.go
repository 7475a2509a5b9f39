package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
)

// Addresses of the two namespaces this test creates and joins with a veth
// pair; nothing outside them is ever dialled.
const (
	partitionBrokerAddr = "10.213.0.1"
	partitionDeviceAddr = "10.213.0.2"
)

// netnsPair creates a broker and a device namespace joined by a veth pair
// and removes them when the test ends.
func netnsPair(t *testing.T) (brokerNS, deviceNS string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the partition test needs root for network namespaces (CI runs as root)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (apt-get install -y iproute2 nftables): %v", tool, err)
		}
	}
	suffix := fmt.Sprint(os.Getpid() % 100000)
	brokerNS, deviceNS = "epb"+suffix, "epd"+suffix
	vb, vd := "vepb"+suffix, "vepd"+suffix
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", brokerNS).Run()
		exec.Command("ip", "netns", "del", deviceNS).Run()
	})
	sh(t, "ip", "netns", "add", brokerNS)
	sh(t, "ip", "netns", "add", deviceNS)
	sh(t, "ip", "link", "add", vb, "netns", brokerNS, "type", "veth", "peer", "name", vd, "netns", deviceNS)
	for _, ns := range []struct{ name, link, addr string }{{brokerNS, vb, partitionBrokerAddr}, {deviceNS, vd, partitionDeviceAddr}} {
		sh(t, "ip", "-n", ns.name, "addr", "add", ns.addr+"/30", "dev", ns.link)
		sh(t, "ip", "-n", ns.name, "link", "set", ns.link, "up")
		sh(t, "ip", "-n", ns.name, "link", "set", "lo", "up")
	}
	return brokerNS, deviceNS
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

var logTimeRE = regexp.MustCompile(`time=(\d\d:\d\d:\d\d\.\d\d\d) level=WARN msg="disconnected from broker`)

// The cable is pulled between device and broker for longer than the
// keepalive: edgepub notices within about 1.5 keepalives, keeps reading,
// and delivers everything once the link is back.
func TestPartitionIsDetectedAndNothingIsLost(t *testing.T) {
	brokerNS, deviceNS := netnsPair(t)
	pki := mosquittotest.NewSeedPKI(t, partitionBrokerAddr, "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, Netns: brokerNS, Host: partitionBrokerAddr})
	sub := broker.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true})
	certDir, stateDir := pki.DeviceDir(t, "Kai"), t.TempDir()
	const keepalive = 5 * time.Second
	d := startDaemonProc(t, deviceNS, writeConfig(t, chaosConfig(broker.URL(), certDir, stateDir, "20ms")))
	sub.WaitFor(15*time.Second, "readings before the partition", func(m []mosquittotest.Message) bool {
		return deliveries(t, m, "Kai").maxSeq >= 50
	})

	// Drop everything in and out of the device namespace: a pulled cable,
	// no RST, no FIN.
	sh(t, "ip", "netns", "exec", deviceNS, "nft", "add table inet partition")
	sh(t, "ip", "netns", "exec", deviceNS, "nft", "add chain inet partition in { type filter hook input priority 0 ; policy drop ; }")
	sh(t, "ip", "netns", "exec", deviceNS, "nft", "add chain inet partition out { type filter hook output priority 0 ; policy drop ; }")
	cut := time.Now()
	deadline := cut.Add(3 * keepalive)
	var noticed time.Time
	for noticed.IsZero() && time.Now().Before(deadline) {
		if m := logTimeRE.FindStringSubmatch(d.Log()); m != nil {
			hms, _ := time.ParseInLocation("15:04:05.000", m[1], time.Local)
			noticed = time.Date(cut.Year(), cut.Month(), cut.Day(), hms.Hour(), hms.Minute(), hms.Second(), hms.Nanosecond(), time.Local)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if noticed.IsZero() {
		t.Fatalf("the dead connection was not noticed within %v", 3*keepalive)
	}
	// 1.5 keepalives, plus the second the keepalive timer may already
	// have run when the cable was pulled.
	if took := noticed.Sub(cut); took > keepalive*3/2+time.Second {
		t.Errorf("dead connection noticed after %v, want within about 1.5 × keepalive (%v)", took.Round(10*time.Millisecond), keepalive*3/2)
	} else {
		t.Logf("dead connection noticed after %v (keepalive %v)", took.Round(10*time.Millisecond), keepalive)
	}
	time.Sleep(time.Until(cut.Add(keepalive * 2))) // the partition lasts two keepalives
	healed := len(d.Log())
	sh(t, "ip", "netns", "exec", deviceNS, "nft", "delete table inet partition")

	testutil.Eventually(t, 15*time.Second, "edgepub reconnects once the link is back", func() bool {
		line, _ := logLineAfter(d.Log(), healed, `msg="connected to broker"`)
		return line != ""
	})
	stopWithin(t, d, 2*time.Second)
	drainAndStop(t, deviceNS, writeConfig(t, chaosConfig(broker.URL(), certDir, stateDir, "1h")))
	var got delivery
	sub.WaitFor(30*time.Second, "every seq", func(m []mosquittotest.Message) bool {
		got = deliveries(t, m, "Kai")
		return len(got.missing()) == 0
	})
	if got.maxSeq < 400 {
		t.Errorf("only %d readings: edgepub did not keep reading through the partition", got.maxSeq)
	}
	t.Logf("partition: %d readings, %d duplicates", got.maxSeq, got.duplicates)
}
