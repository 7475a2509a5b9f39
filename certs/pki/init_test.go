package pki_test

import (
	"crypto/x509"
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

func TestInitPKI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host    string
		keyType pki.KeyType
	}{{"192.168.137.150", ""}, {"broker.example", pki.KeyRSA2048}} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "certs")
			res, err := pki.InitPKI(pki.InitOpts{Dir: dir, Host: tc.host, Clients: []string{"Kai", "greenhouse-2"}, KeyType: tc.keyType, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if res.CAKeyFile != dir+"-ca-private/ca.key" {
				t.Errorf("CA key at %s", res.CAKeyFile)
			}
			wantModes := map[string]os.FileMode{
				"ca.crt": 0o644, "server.crt": 0o644, "server.key": 0o600,
				"Kai.crt": 0o644, "Kai.key": 0o600, "greenhouse-2.crt": 0o644, "greenhouse-2.key": 0o600,
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(wantModes) {
				t.Errorf("%d files in %s, want %d (no CA key, no temp files)", len(entries), dir, len(wantModes))
			}
			for name, mode := range wantModes {
				st, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != mode {
					t.Errorf("%s has mode %04o, want %04o", name, st.Mode().Perm(), mode)
				}
			}
			for path, mode := range map[string]os.FileMode{res.CAKeyFile: 0o600, filepath.Dir(res.CAKeyFile): 0o700} {
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != mode {
					t.Errorf("%s has mode %04o, want %04o", path, st.Mode().Perm(), mode)
				}
			}
			if len(res.Written) != 8 || !strings.Contains(res.Reminder, res.CAKeyFile) || !strings.Contains(res.Reminder, "offline") || !strings.Contains(res.Reminder, "use_username_as_clientid true") {
				t.Errorf("result %+v", res)
			}

			// Go's standard verifier accepts the server certificate for the host.
			ca := readCert(t, filepath.Join(dir, "ca.crt"))
			srv := readCert(t, filepath.Join(dir, "server.crt"))
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			if _, err := srv.Verify(x509.VerifyOptions{DNSName: tc.host, Roots: roots, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("server certificate: %v", err)
			}
			if got := srv.NotAfter.Sub(t0); got != 825*24*time.Hour {
				t.Errorf("server certificate lives %v", got)
			}
			if got := ca.NotAfter.Sub(t0); got != 1825*24*time.Hour {
				t.Errorf("CA certificate lives %v", got)
			}

			// A device folder made from it loads, with the name as identity.
			dev := t.TempDir()
			for _, f := range []string{"ca.crt", "greenhouse-2.crt", "greenhouse-2.key"} {
				tutorialpki.CopyFile(t, filepath.Join(dir, f), filepath.Join(dev, f), 0o600)
			}
			b, err := certs.Load(dev, certs.Names{}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if b.Identity != "greenhouse-2" || len(b.Warnings) != 0 {
				t.Errorf("identity %q, warnings %+v", b.Identity, b.Warnings)
			}
		})
	}
}

// TestInitPKIOpenSSLAccepts checks the files with OpenSSL, the library
// mosquitto uses, for the purposes mosquitto checks.
func TestInitPKIOpenSSLAccepts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := pki.InitPKI(pki.InitOpts{Dir: dir, CAKeyDir: t.TempDir(), Host: "127.0.0.1", Clients: []string{"Kai"}}); err != nil {
		t.Fatal(err)
	}
	out := tutorialpki.RunIn(t, dir, "openssl", "verify", "-CAfile", "ca.crt", "-purpose", "sslserver", "-verify_ip", "127.0.0.1", "server.crt")
	out += tutorialpki.RunIn(t, dir, "openssl", "verify", "-CAfile", "ca.crt", "-purpose", "sslclient", "Kai.crt")
	if strings.Count(out, ": OK") != 2 {
		t.Errorf("openssl verify: %s", out)
	}
	for _, key := range []string{"server.key", "Kai.key"} {
		tutorialpki.RunIn(t, dir, "openssl", "pkey", "-in", key, "-noout")
	}
}

func TestInitPKINeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	caKeyDir := filepath.Join(t.TempDir(), "private")
	opts := pki.InitOpts{Dir: dir, CAKeyDir: caKeyDir, Host: "10.0.0.1", Clients: []string{"Kai"}, Now: t0}
	if _, err := pki.InitPKI(opts); err != nil {
		t.Fatal(err)
	}
	kaiBefore, err := os.ReadFile(filepath.Join(dir, "Kai.crt"))
	if err != nil {
		t.Fatal(err)
	}
	caBefore, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}

	// Again with one more client: the existing files stop it before anything is written.
	again := opts
	again.Clients = []string{"Bob", "Kai"}
	_, err = pki.InitPKI(again)
	testutil.WantOneLineError(t, err, filepath.Join(dir, "server.crt"), "already exists", "--force")
	if _, err := os.Stat(filepath.Join(dir, "Bob.crt")); err == nil {
		t.Error("Bob.crt was written although the run failed")
	}

	// Only new clients, with the existing CA reused.
	more := opts
	more.Dir = dir
	if err := os.Remove(filepath.Join(dir, "server.crt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	more.Clients = []string{"Bob"}
	res, err := pki.InitPKI(more)
	if err != nil {
		t.Fatal(err)
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if !res.ReusedCA || string(caAfter) != string(caBefore) {
		t.Error("the existing CA was not reused")
	}
	bob := readCert(t, filepath.Join(dir, "Bob.crt"))
	if err := bob.CheckSignatureFrom(readCert(t, filepath.Join(dir, "ca.crt"))); err != nil {
		t.Errorf("Bob's certificate is not from the existing CA: %v", err)
	}

	// Force overwrites everything, with a new CA.
	forced := opts
	forced.Force = true
	if _, err := pki.InitPKI(forced); err != nil {
		t.Fatal(err)
	}
	kaiAfter, _ := os.ReadFile(filepath.Join(dir, "Kai.crt"))
	caForced, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if string(kaiAfter) == string(kaiBefore) || string(caForced) == string(caBefore) {
		t.Error("--force did not overwrite")
	}
}

func TestInitPKIRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		opts  pki.InitOpts
		words []string
	}{
		{"CA key inside the folder", pki.InitOpts{Dir: dir, CAKeyDir: filepath.Join(dir, "private"), Host: "h"}, []string{"inside the certificate folder"}},
		{"CA key folder is the folder", pki.InitOpts{Dir: dir, CAKeyDir: dir, Host: "h"}, []string{"inside the certificate folder"}},
		{"topic characters in a name", pki.InitOpts{Dir: dir, Host: "h", Clients: []string{"kai/+"}}, []string{`"kai/+"`, "letters, digits"}},
		{"name clashes with server files", pki.InitOpts{Dir: dir, Host: "h", Clients: []string{"server"}}, []string{"server files"}},
		{"no host", pki.InitOpts{Dir: dir}, []string{"--host"}},
		{"name twice", pki.InitOpts{Dir: dir, Host: "h", Clients: []string{"a", "a"}}, []string{"twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pki.InitPKI(tc.opts)
			testutil.WantOneLineError(t, err, tc.words...)
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("rejected runs wrote %d files", len(entries))
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseCertPEM(t, data)
}

func BenchmarkIssueClient(b *testing.B) {
	for _, kt := range []pki.KeyType{pki.KeyECDSAP256, pki.KeyRSA2048} {
		b.Run(string(kt), func(b *testing.B) {
			ca, err := pki.NewCA("bench", kt, t0)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, _, err := ca.IssueClient("dev", t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
