package doctor

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/mosquittotest"
)

func configFor(t *testing.T, brokerURL, certDir string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Broker.URLs = []string{brokerURL}
	cfg.Certs.Dir = certDir
	cfg.StateDir = t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// last returns the final step and fails unless the run stopped at want.
func last(t *testing.T, steps []Step, want string, ok bool) Step {
	t.Helper()
	s := steps[len(steps)-1]
	if s.Name != want || s.OK != ok {
		for _, st := range steps {
			t.Logf("%+v", st)
		}
		t.Fatalf("last step %q ok=%v, want %q ok=%v", s.Name, s.OK, want, ok)
	}
	return s
}

func TestCheckPassesAgainstTheSeedBroker(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	steps := Check(context.Background(), configFor(t, b.URL(), pki.DeviceDir(t, "Kai")), Opts{Timeout: 5 * time.Second})
	last(t, steps, "test publish", true)
	if Failed(steps) {
		t.Error("Failed() on a passing run")
	}
	for _, s := range steps {
		if s.Name == "TLS handshake" && !strings.Contains(s.Note, "subjectAltName") {
			t.Errorf("the seed's CN-only server certificate is not noted: %+v", s)
		}
	}
}

func TestCheckNamesEachMisconfiguration(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	good := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	ctx := context.Background()
	opts := Opts{Timeout: 3 * time.Second}

	t.Run("wrong CA", func(t *testing.T) {
		dir := pki.DeviceDir(t, "Kai")
		other := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
		// The device holds a bundle from another CA; it is self-consistent,
		// so only the broker's certificate gives it away.
		for _, f := range []string{"ca.crt", "Kai.crt", "Kai.key"} {
			data, _ := os.ReadFile(other.File(f))
			os.WriteFile(dir+"/"+f, data, 0o600)
		}
		s := last(t, Check(ctx, configFor(t, good.URL(), dir), opts), "TLS handshake", false)
		if !strings.Contains(s.Fix, "ca.crt") {
			t.Errorf("fix = %q", s.Fix)
		}
	})
	t.Run("wrong host", func(t *testing.T) {
		other := mosquittotest.NewSeedPKI(t, "broker.example", "Kai")
		b := mosquittotest.Start(t, mosquittotest.Opts{PKI: other})
		s := last(t, Check(ctx, configFor(t, b.URL(), other.DeviceDir(t, "Kai")), opts), "TLS handshake", false)
		if !strings.Contains(s.Detail+s.Fix, "broker.example") {
			t.Errorf("step = %+v", s)
		}
	})
	t.Run("broker refuses the identity", func(t *testing.T) {
		// The broker trusts another CA for its clients (cafile) while its
		// own certificate still comes from the device's CA.
		other := mosquittotest.NewSeedPKI(t, "127.0.0.1")
		b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ClientCAFile: other.File("ca.crt")})
		s := last(t, Check(ctx, configFor(t, b.URL(), pki.DeviceDir(t, "Kai")), opts), "TLS handshake", false)
		if !strings.Contains(s.Fix, "refused this device's certificate") {
			t.Errorf("step = %+v", s)
		}
	})
	t.Run("ACL without the seed rule", func(t *testing.T) {
		b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ACL: "user monitor\ntopic read #\n"})
		s := last(t, Check(ctx, configFor(t, b.URL(), pki.DeviceDir(t, "Kai")), opts), "test publish", false)
		if !strings.Contains(s.Fix, "pattern readwrite %u/#") || !strings.Contains(s.Fix, "verify_delivery: warn") {
			t.Errorf("fix = %q", s.Fix)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		url := "ssl://127.0.0.1:" + strconv.Itoa(mosquittotest.FreePort(t))
		s := last(t, Check(ctx, configFor(t, url, pki.DeviceDir(t, "Kai")), opts), "TCP connect", false)
		if !strings.Contains(s.Fix, "listener") {
			t.Errorf("fix = %q", s.Fix)
		}
	})
	t.Run("missing discovery ACL", func(t *testing.T) {
		cfg := configFor(t, good.URL(), pki.DeviceDir(t, "Kai"))
		cfg.Presence.HomeAssistant = true
		s := last(t, Check(ctx, cfg, opts), "discovery ACL", false)
		if !strings.Contains(s.Fix, "pattern readwrite homeassistant/sensor/%u/#") {
			t.Errorf("fix = %q", s.Fix)
		}
		b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, ACL: mosquittotest.SeedACL + "\npattern readwrite homeassistant/sensor/%u/#\n"})
		cfg.Broker.URLs = []string{b.URL()}
		last(t, Check(ctx, cfg, opts), "discovery ACL", true)
	})
}

// check tells ahead of run that the state dir cannot be used, with the fix.
// The broker is never dialled: the step before name resolution fails.
func TestCheckStateDir(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	cfg := configFor(t, "ssl://127.0.0.1:1", pki.DeviceDir(t, "Kai"))
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = filepath.Join(file, "state")
	s := last(t, Check(context.Background(), cfg, Opts{Timeout: time.Second}), "state dir", false)
	if !strings.Contains(s.Detail, file+" is not a directory") || !strings.Contains(s.Fix, "--state-dir DIR") || !strings.Contains(s.Fix, "systemctl start edgepub") {
		t.Errorf("step = %+v", s)
	}

	cfg.StateDir = filepath.Join(t.TempDir(), "new", "state")
	steps := Check(context.Background(), cfg, Opts{Timeout: time.Second})
	if len(steps) < 2 || steps[1].Name != "state dir" || !steps[1].OK || !strings.Contains(steps[1].Detail, "does not exist yet") {
		t.Errorf("steps = %+v", steps)
	}
}

// check names a port without TLS as such (a plain MQTT listener, a silent
// one) and never blames the certificate.
func TestCheckNamesPortWithoutTLS(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	port := strconv.Itoa(mosquittotest.FreePort(t))
	mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, Extra: []string{"", "listener " + port + " 127.0.0.1"}})
	plain := net.JoinHostPort("127.0.0.1", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", plain, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plain listener did not open: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, tc := range []struct{ addr, want string }{
		{plain, "port " + port + " of 127.0.0.1 is plain MQTT"},
		{ln.Addr().String(), "accepts TCP connections but answers neither"},
	} {
		cfg := configFor(t, "ssl://"+tc.addr, pki.DeviceDir(t, "Kai"))
		s := last(t, Check(context.Background(), cfg, Opts{Timeout: 2 * time.Second}), "TLS handshake", false)
		if !strings.Contains(s.Detail, tc.want) || !strings.Contains(s.Detail+s.Fix, "8883") || strings.Contains(s.Detail+s.Fix, "certificate") {
			t.Errorf("%s: step = %+v", tc.addr, s)
		}
	}
}
