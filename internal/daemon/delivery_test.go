package daemon

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/publisher"
)

// A broker whose ACL drops the device's publishes shows in STATUS= and the
// health message, and readings stay in the outbox (verify_delivery: hold);
// once the ACL is fixed and Mosquitto reloaded, every reading taken
// meanwhile reaches a subscriber.
func TestUnroutedDeliveryShowsInStatusAndHealth(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ACL: "user monitor\ntopic readwrite #\n"})
	sub := broker.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true})
	defer sub.Stop()
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
	for r.d.outbox.Stats().Backlog < 10 {
		if time.Now().After(deadline) {
			t.Fatal("readings were not queued")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := len(sub.Messages()); got != 0 {
		t.Fatalf("%d readings reached the subscriber through an ACL that drops them", got)
	}

	broker.SetACL(t, mosquittotest.SeedACL)
	broker.Reload()
	last := r.d.outbox.Stats().LastSeq
	msgs := sub.WaitFor(30*time.Second, "every reading up to the fix", func(m []mosquittotest.Message) bool {
		return uint64(len(m)) >= last
	})
	seen := map[uint64]bool{}
	for _, m := range msgs {
		var v struct{ Seq uint64 }
		if err := json.Unmarshal([]byte(m.Payload), &v); err != nil {
			t.Fatalf("payload %q: %v", m.Payload, err)
		}
		seen[v.Seq] = true
	}
	for seq := uint64(1); seq <= last; seq++ {
		if !seen[seq] {
			t.Errorf("seq %d lost", seq)
		}
	}
	if h := r.d.Health(); h.Delivery != publisher.DeliveryConfirmed {
		t.Errorf("health after the fix %+v", h)
	}
}
