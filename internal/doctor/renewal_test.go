package doctor

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/certs/signer"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
)

// With a signer beside the broker, check suggests certs.renew: auto; with
// renew on and no signer, the renewal step warns and says what to start.
func TestCheckRenewal(t *testing.T) {
	p := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai", "signer")
	os.Chmod(p.File("ca.key"), 0o600)
	ca, err := pki.OpenAuthority(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	b := mosquittotest.Start(t, mosquittotest.Opts{PKI: p, ACL: mosquittotest.SignerACL})
	cfg := configFor(t, b.URL(), p.DeviceDir(t, "Kai"))
	opts := Opts{Timeout: 5 * time.Second}

	cfg.Certs.Renew = "auto"
	s := last(t, Check(context.Background(), cfg, opts), "renewal", true)
	if s.Status != Warn || !strings.Contains(s.Fix, "edgepub ca serve") {
		t.Errorf("renewal step = %+v, want WARN with the fix", s)
	}

	dir := p.DeviceDir(t, "signer")
	bundle, err := certs.Load(dir, certs.Names{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- signer.Run(ctx, signer.Opts{Authority: ca, BrokerURL: b.URL(), Logger: slog.New(slog.NewTextHandler(logs, nil)),
			TLS: certs.ClientTLSConfig(certs.NewSource(dir, certs.Names{}, bundle, nil), certs.TLSOpts{Host: "127.0.0.1"})})
	}()
	defer func() { cancel(); <-done }()

	cfg.Certs.Renew = "off"
	deadline := time.Now().Add(20 * time.Second)
	for {
		steps := Check(context.Background(), cfg, opts)
		if s := steps[len(steps)-1]; s.Name == "renewal" {
			if s.Status != Pass || !strings.Contains(s.Note, "certs.renew: auto") {
				t.Errorf("step = %+v", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("check never saw the signer")
		}
	}
	if _, err := ca.Index(); err != nil || strings.Contains(logs.String(), "certificate issued") {
		t.Errorf("the probe made the signer issue something: %v\n%s", err, logs.String())
	}
}
