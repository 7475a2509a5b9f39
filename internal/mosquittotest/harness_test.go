package mosquittotest

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The harness itself must prove the seed's set-up: v1 certificates without a
// SAN, CN as username, and the %u/# ACL.
func TestSeedSetUp(t *testing.T) {
	pki := NewSeedPKI(t, "127.0.0.1", "Kai")
	out, err := exec.Command("openssl", "x509", "-in", pki.File("server.crt"), "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "Version: 1 (0x0)") || strings.Contains(string(out), "Subject Alternative Name") {
		t.Fatalf("seed server certificate is not v1 without SAN:\n%s", out)
	}
	b := Start(t, Opts{PKI: pki})
	sub := b.Subscribe(t, "#", SubOpts{Persistent: true})
	if out, err := b.Publish(t, "Kai", "Kai/logs", "TLS & Authentifiziert"); err != nil {
		t.Fatalf("publish as Kai: %v %s", err, out)
	}
	if out, err := b.Publish(t, "Kai", "Bob/logs", "not allowed"); err != nil {
		t.Fatalf("publish outside Kai/: %v %s", err, out)
	}
	sub.WaitFor(5*time.Second, "Kai/logs", func(m []Message) bool { return len(m) >= 1 })
	b.Restart()
	if out, err := b.Publish(t, "Kai", "Kai/logs", "after restart"); err != nil {
		t.Fatalf("publish after restart: %v %s", err, out)
	}
	msgs := sub.WaitFor(15*time.Second, "message after restart", func(m []Message) bool { return len(m) >= 2 })
	for _, m := range msgs {
		if m.Topic != "Kai/logs" {
			t.Errorf("subscriber got %q: the ACL let a publish outside the CN's tree through", m.Topic)
		}
	}
}
