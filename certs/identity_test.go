package certs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

func TestLoadRefusesUnsafeIdentity(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "Test CA", pki.KeyECDSAP256)
	for _, tc := range []struct{ cn, why string }{
		{"Kai/x", "'/'"},
		{"Kai+", "wildcard"},
		{"Kai#", "wildcard"},
		{"$SYS", "'$'"},
		{"Kai\nx", "control character"},
		{"Kai\x1b[31m", "control character"},
	} {
		t.Run(tc.cn, func(t *testing.T) {
			t.Parallel()
			c, k, err := ca.Issue(pki.IssueRequest{CommonName: tc.cn, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			dir := deviceDir(t, ca.CertPEM(), "dev", c, k)
			_, err = certs.Load(dir, certs.Names{}, t0)
			testutil.WantOneLineError(t, err, "cannot be a device id", tc.why, "reissue")
			if !errors.Is(err, certs.ErrUnusable) {
				t.Errorf("%v is not ErrUnusable", err)
			}
			if strings.ContainsAny(err.Error(), "\n\x1b") {
				t.Errorf("error carries the raw CN: %q", err)
			}
		})
	}
	for _, ok := range []string{"Kai", "Kai.1", "pi-kitchen_2", "Küche"} {
		if err := certs.CheckIdentity(ok); err != nil {
			t.Errorf("CheckIdentity(%q) = %v, want nil", ok, err)
		}
	}
	if err := certs.CheckIdentity(""); err == nil {
		t.Error("empty CN accepted")
	}
}

func TestDiscoverSkipsServerPairs(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "Test CA", pki.KeyECDSAP256)
	serverCrt, serverKey, err := ca.IssueServer("127.0.0.1", t0)
	if err != nil {
		t.Fatal(err)
	}
	kaiCrt, kaiKey := issueClient(t, ca, "Kai")

	t.Run("server EKU beside a client", func(t *testing.T) {
		t.Parallel()
		dir := deviceDir(t, ca.CertPEM(), "Kai", kaiCrt, kaiKey)
		writeFile(t, filepath.Join(dir, "broker.crt"), serverCrt, 0o644)
		writeFile(t, filepath.Join(dir, "broker.key"), serverKey, 0o600)
		b, err := certs.Load(dir, certs.Names{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if b.Identity != "Kai" {
			t.Errorf("picked %s, want Kai", b.Identity)
		}
	})
	t.Run("only a server EKU pair", func(t *testing.T) {
		t.Parallel()
		dir := deviceDir(t, ca.CertPEM(), "broker", serverCrt, serverKey)
		_, err := certs.Load(dir, certs.Names{}, t0)
		testutil.WantOneLineError(t, err, "no client certificate", "broker.crt", "serverAuth, no clientAuth", "broker's", "<name>.crt")
		if !errors.Is(err, certs.ErrNoClientCert) {
			t.Errorf("%v is not ErrNoClientCert", err)
		}
	})
}

// The tutorial's server.crt is v1 without extended key usage: only its name
// tells it from a client certificate.
func TestDiscoverSkipsTutorialServerPair(t *testing.T) {
	t.Parallel()
	p := tutorialpki.New(t, t.TempDir(), tutorialpki.Opts{ServerCN: "127.0.0.1", Clients: []string{"Kai"}})
	if v := p.Version(t, "server.crt"); v != 1 {
		t.Fatalf("tutorial server.crt is v%d, want v1", v)
	}
	if err := os.Remove(p.File("ca.key")); err != nil {
		t.Fatal(err)
	}
	b, err := certs.Load(p.Dir, certs.Names{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if b.Identity != "Kai" {
		t.Errorf("picked %s, want Kai", b.Identity)
	}

	only := t.TempDir()
	for _, f := range []string{"ca.crt", "server.crt", "server.key"} {
		tutorialpki.CopyFile(t, p.File(f), filepath.Join(only, f), 0o600)
	}
	_, err = certs.Load(only, certs.Names{}, time.Now())
	testutil.WantOneLineError(t, err, "no client certificate", "server.crt", "tutorial's broker certificate", "<name>.crt")
}

// certs init's folder is a working cert dir for its one client.
func TestInitFolderIsACertDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	if _, err := pki.InitPKI(pki.InitOpts{Dir: dir, Host: "127.0.0.1", Clients: []string{"Kai"}, Now: t0}); err != nil {
		t.Fatal(err)
	}
	b, err := certs.Load(dir, certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Identity != "Kai" {
		t.Errorf("identity %s, want Kai", b.Identity)
	}
}
