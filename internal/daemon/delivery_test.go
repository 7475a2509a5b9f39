package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/publisher"
)

// A broker whose ACL drops the device's publishes shows in STATUS= and the
// health message, and readings stay in the outbox (verify_delivery: hold).
func TestUnroutedDeliveryShowsInStatusAndHealth(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ACL: "user monitor\ntopic readwrite #\n"})
	r := startDaemon(t, Opts{Config: testConfig(t, broker, pki.DeviceDir(t, "Kai"), t.TempDir())})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(r.d.StatusLine(), "DELIVERY NOT CONFIRMED") {
		if time.Now().After(deadline) {
			t.Fatalf("STATUS= never said so: %q", r.d.StatusLine())
		}
		time.Sleep(50 * time.Millisecond)
	}
	line := r.d.StatusLine()
	if !strings.Contains(line, publisher.ACLLine) || !strings.Contains(line, "readings held") {
		t.Errorf("STATUS= %q", line)
	}
	h := r.d.Health()
	if h.Delivery != publisher.DeliveryUnconfirmed || !strings.Contains(h.DeliveryError, "verify_delivery: warn") || h.Delivered != 0 {
		t.Errorf("health %+v", h)
	}
	for r.d.outbox.Stats().Backlog == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reading was queued")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
