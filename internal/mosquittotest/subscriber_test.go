package mosquittotest

import (
	"strings"
	"testing"
	"time"
)

// A persistent subscriber whose mosquitto_sub exits (as 2.0.11's does with
// "Protocol error" when the broker shuts down under it) is started again and
// gets what was published while it was gone; a non-persistent one is not.
func TestPersistentSubscriberOutlivesItsProcess(t *testing.T) {
	pki := NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := Start(t, Opts{PKI: pki})
	for _, persistent := range []bool{true, false} {
		id := "persistent"
		if !persistent {
			id = "clean"
		}
		sub := broker.Subscribe(t, "Kai/#", SubOpts{Persistent: persistent, ClientID: id})
		sub.mu.Lock()
		first := sub.cmd
		sub.mu.Unlock()
		first.Process.Kill()
		if !persistent {
			<-sub.done
			if d := sub.Diagnosis(); !strings.Contains(d, "mosquitto_sub exited (started again 0 times)") {
				t.Errorf("clean session: %s", d)
			}
			continue
		}
		// Published while the process is gone or just back: the session
		// holds it either way.
		if out, err := broker.Publish(t, "Kai", "Kai/sensors/env", "while-away"); err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, out)
		}
		sub.WaitFor(30*time.Second, "the message published while the process was gone", func(m []Message) bool {
			return len(m) > 0 && m[len(m)-1].Payload == "while-away"
		})
		if d := sub.Diagnosis(); !strings.Contains(d, "mosquitto_sub running (started again 1 times)") {
			t.Errorf("persistent session: %s", d)
		}
	}
}
