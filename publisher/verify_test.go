package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/sensors"
)

// aclWithoutDevices lets the harness's monitor read everything but has no
// rule for the devices: Mosquitto acknowledges their publishes and drops
// them.
const aclWithoutDevices = "user monitor\ntopic readwrite #\n"

func addReadings(t *testing.T, q *memQueue, from, to int) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		r := sensors.Reading{Sensor: "env", Time: time.Now(), Values: sensors.Values{"temperature_c": 20 + float64(seq)/10}}
		payload, err := message.Encode("Kai", uint64(seq), r)
		if err != nil {
			t.Fatal(err)
		}
		q.add(message.Topic("Kai", "env"), payload)
	}
}

// With verify_delivery: hold (the default) a broker whose ACL drops the
// device's publishes is noticed within 15 s, the readings stay queued, and
// once the ACL is fixed and Mosquitto reloaded every one of them arrives.
func TestHoldUntilTheBrokerRoutesPublishes(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ACL: aclWithoutDevices})
	sub := broker.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true})
	defer sub.Stop()

	logs := &testutil.Buffer{}
	o := testOpts(t, broker.URL(), loadSource(t, pki.DeviceDir(t, "Kai")))
	o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	q := newMemQueue()
	addReadings(t, q, 1, 20)
	p := New(q, o)
	defer start(t, p)()

	deadline := time.Now().Add(15 * time.Second)
	waitFor(t, "the delivery error", func() bool { return strings.Contains(logs.String(), logging.MsgDeliveryUnconfirmed) })
	if time.Now().After(deadline) {
		t.Errorf("the delivery error took longer than 15 s")
	}
	out := logs.String()
	if !strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, ACLLine) || !strings.Contains(out, "verify_delivery: warn") {
		t.Errorf("the error does not name the ACL line and the warn mode:\n%s", out)
	}
	if st := p.Status(); st.Delivery != DeliveryUnconfirmed || !strings.Contains(st.DeliveryError, ACLLine) || st.Delivered != 0 {
		t.Errorf("status while held = %+v", st)
	}
	if n := q.unacked(); n != 20 {
		t.Errorf("%d readings left the queue while delivery was unconfirmed, want none", 20-n)
	}
	addReadings(t, q, 21, 30) // taken while held

	broker.SetACL(t, mosquittotest.SeedACL)
	broker.Reload()
	msgs := sub.WaitFor(30*time.Second, "all 30 readings", func(m []mosquittotest.Message) bool { return count(m, "Kai/sensors/env") >= 30 })
	seen := map[int]bool{}
	for _, m := range msgs {
		var body struct{ Seq int }
		if err := json.Unmarshal([]byte(m.Payload), &body); err != nil {
			t.Fatalf("payload %q: %v", m.Payload, err)
		}
		seen[body.Seq] = true
	}
	for seq := 1; seq <= 30; seq++ {
		if !seen[seq] {
			t.Errorf("seq %d lost", seq)
		}
	}
	waitFor(t, "queue drained", func() bool { return q.unacked() == 0 })
	if st := p.Status(); st.Delivery != DeliveryConfirmed || st.DeliveryError != "" {
		t.Errorf("status after the fix = %+v", st)
	}
	if n := strings.Count(logs.String(), logging.MsgDeliveryUnconfirmed); n != 1 {
		t.Errorf("the delivery error was logged %d times, want once", n)
	}
}

// With verify_delivery: warn readings are sent anyway and counted.
func TestWarnSendsAndCountsUnconfirmed(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ACL: aclWithoutDevices})
	o := testOpts(t, broker.URL(), loadSource(t, pki.DeviceDir(t, "Kai")))
	o.VerifyDelivery = VerifyWarn
	q := newMemQueue()
	p := New(q, o)
	defer start(t, p)()
	waitFor(t, "delivery unconfirmed", func() bool { return p.Status().Delivery == DeliveryUnconfirmed })
	addReadings(t, q, 1, 10)
	waitFor(t, "readings sent", func() bool { return q.unacked() == 0 })
	if st := p.Status(); st.Unconfirmed != 10 {
		t.Errorf("status = %+v, want 10 unconfirmed", st)
	}
}

// The periodic check notices an ACL that changes while connected, holds
// what comes next, and lets it out once the ACL is back. An ACL that lets
// the device write but not read its topics looks the same from here, so the
// error names verify_delivery: warn for it.
func TestPeriodicCheckNoticesACLChange(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{Persistent: true})
	defer sub.Stop()
	o := testOpts(t, broker.URL(), loadSource(t, pki.DeviceDir(t, "Kai")))
	o.VerifyEvery = time.Second
	q := newMemQueue()
	p := New(q, o)
	defer start(t, p)()
	waitFor(t, "delivery confirmed", func() bool { return p.Status().Delivery == DeliveryConfirmed })
	addReadings(t, q, 1, 5)
	waitFor(t, "first readings acked", func() bool { return q.unacked() == 0 })

	// Write but not read: the probe cannot come back.
	broker.SetACL(t, "pattern write %u/#\nuser monitor\ntopic readwrite #\n")
	broker.Reload()
	waitFor(t, "delivery unconfirmed", func() bool { return p.Status().Delivery == DeliveryUnconfirmed })
	if st := p.Status(); !strings.Contains(st.DeliveryError, "write but deliberately not read") || !strings.Contains(st.DeliveryError, "verify_delivery: warn") {
		t.Errorf("status = %+v", st)
	}
	addReadings(t, q, 6, 10)
	if n := q.unacked(); n != 5 {
		t.Errorf("%d of the readings taken while unconfirmed left the queue", 5-n)
	}

	broker.SetACL(t, mosquittotest.SeedACL)
	broker.Reload()
	sub.WaitFor(20*time.Second, "all 10 readings", func(m []mosquittotest.Message) bool { return count(m, "Kai/sensors/env") >= 10 })
	waitFor(t, "queue drained", func() bool { return q.unacked() == 0 })
}

// paho's Publish and Subscribe can themselves block until the write
// timeout; waitToken returns on ctx, a lost connection or its own timeout
// without waiting for the call.
func TestWaitTokenDoesNotWaitForABlockedCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		blocked := func() mqtt.Token { <-release; return nil }

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := waitToken(ctx, &connection{lost: make(chan struct{})}, time.Hour, blocked); !errors.Is(err, context.Canceled) {
			t.Errorf("ctx done: %v", err)
		}
		lost := &connection{lost: make(chan struct{})}
		lost.markLost(nil)
		if _, err := waitToken(context.Background(), lost, time.Hour, blocked); !errors.Is(err, errConnectionLost) {
			t.Errorf("connection lost: %v", err)
		}
		start := time.Now()
		_, err := waitToken(context.Background(), &connection{lost: make(chan struct{})}, time.Second, blocked)
		if err == nil || !strings.Contains(err.Error(), "no answer within 1s") || time.Since(start) != time.Second {
			t.Errorf("timeout: %v after %v", err, time.Since(start))
		}
	})
}
