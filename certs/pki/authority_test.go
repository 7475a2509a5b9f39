package pki_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

func csrFor(t *testing.T, cn string, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func newKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tutorialCA is a CA folder made with the tutorial's openssl commands.
func tutorialCA(t *testing.T) *pki.Authority {
	t.Helper()
	p := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	if err := os.Chmod(p.File("ca.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := pki.OpenAuthority(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func refusal(t *testing.T, err error) string {
	t.Helper()
	var r *pki.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("want a refusal, got %v", err)
	}
	return r.Reason
}

// A signed CSR gives a v3 clientAuth certificate that openssl verifies
// against the tutorial's ca.crt and finds in index.txt with `openssl ca
// -status`, so the tutorial's tools still understand the folder.
func TestSignIsUnderstoodByOpenSSL(t *testing.T) {
	a := tutorialCA(t)
	now := time.Now()
	iss, err := a.Sign(pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", newKey(t))}, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	c := iss.Cert
	if c.Version != 3 || c.Subject.String() != "CN=Kai" || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("issued v%d %s usages %v", c.Version, c.Subject, c.ExtKeyUsage)
	}
	if got := c.NotAfter.Sub(now).Round(time.Hour); got != pki.DefaultValidity {
		t.Errorf("validity %v, want %v", got, pki.DefaultValidity)
	}
	leaf := filepath.Join(t.TempDir(), "Kai.crt")
	os.WriteFile(leaf, iss.PEM, 0o644)
	openssl(t, a.Dir, "verify", "-purpose", "sslclient", "-CAfile", a.CertFile, leaf)

	conf := filepath.Join(t.TempDir(), "ca.cnf")
	os.WriteFile(conf, []byte("[ca]\ndefault_ca=x\n[x]\ndatabase="+filepath.Join(a.Dir, "index.txt")+"\n"), 0o600)
	// openssl ca -status exits 1 even when it found the serial.
	out, _ := exec.Command("openssl", "ca", "-config", conf, "-status", pki.SerialHex(c.SerialNumber)).CombinedOutput()
	if !strings.Contains(string(out), pki.SerialHex(c.SerialNumber)+"=Valid") {
		t.Errorf("openssl ca -status: %s", out)
	}
}

func TestRefusals(t *testing.T) {
	a := tutorialCA(t)
	now := time.Now()
	key := newKey(t)
	first, err := a.Sign(pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", key)}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	badSig := csrFor(t, "Kai", newKey(t))
	block, _ := pem.Decode(badSig)
	block.Bytes[len(block.Bytes)-3] ^= 0xff
	cases := []struct {
		name string
		req  pki.Request
		want string
	}{
		{"other name", pki.Request{Device: "Kai", CSR: csrFor(t, "Bob", newKey(t))}, pki.RefusedName},
		{"garbage", pki.Request{Device: "Kai", CSR: []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")}, pki.RefusedMalformed},
		{"oversized", pki.Request{Device: "Kai", CSR: make([]byte, pki.MaxCSRBytes+1)}, pki.RefusedTooLarge},
		{"bad signature", pki.Request{Device: "Kai", CSR: pem.EncodeToMemory(block)}, pki.RefusedSignature},
		{"rsa 1024", pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", weak)}, pki.RefusedKeyPolicy},
		{"p-224", pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", p224)}, pki.RefusedKeyPolicy},
		{"key signed before", pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", key)}, pki.RefusedKeyReused},
		{"key of the current cert", pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", key), Current: first.PEM}, pki.RefusedKeyReused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Sign(c.req, time.Hour, now)
			if got := refusal(t, err); got != c.want {
				t.Errorf("refused as %s (%v), want %s", got, err, c.want)
			}
		})
	}
}

// After `ca revoke NAME` the name cannot renew, the CRL lists the serial
// and openssl verifies the CRL against ca.crt; a certificate issued by
// hand afterwards (openssl ca appends to index.txt) lets it renew again.
func TestRevokeAndCRL(t *testing.T) {
	a := tutorialCA(t)
	now := time.Now()
	iss, err := a.Sign(pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", newKey(t))}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Revoke("Bob", "", now); !errors.Is(err, pki.ErrNotFound) {
		t.Errorf("revoking an unknown name: %v", err)
	}
	if _, err := a.Revoke("Kai", "stolen", now); err == nil {
		t.Error("an unknown reason was accepted")
	}
	done, err := a.Revoke("Kai", "keyCompromise", now)
	if err != nil || len(done) != 1 || done[0].Serial.Cmp(iss.Cert.SerialNumber) != 0 {
		t.Fatalf("revoke: %v %v", done, err)
	}
	_, err = a.Sign(pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", newKey(t))}, time.Hour, now)
	if got := refusal(t, err); got != pki.RefusedRevoked {
		t.Errorf("a revoked device was refused as %s", got)
	}
	crl, err := a.WriteCRL(now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !pki.Revoked(crl, iss.Cert.SerialNumber) || crl.Number.Int64() != 1 {
		t.Errorf("CRL %d lacks serial %s", crl.Number, pki.SerialHex(iss.Cert.SerialNumber))
	}
	openssl(t, a.Dir, "crl", "-in", a.CRLFile, "-CAfile", a.CertFile, "-noout")
	if crl2, _ := a.WriteCRL(now, time.Hour); crl2.Number.Int64() != 2 {
		t.Errorf("second CRL number %d, want 2", crl2.Number)
	}

	// A certificate made by hand is revoked by its file.
	p := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Ann")
	os.Chmod(p.File("ca.key"), 0o600)
	b, err := pki.OpenAuthority(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Revoke(p.File("Ann.crt"), "", now); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Revoke("Ann", "", now); !errors.Is(err, pki.ErrNotFound) {
		t.Errorf("Ann revoked twice: %v", err)
	}
}

func TestOpenAuthorityRefusesAReadableKey(t *testing.T) {
	p := mosquittotest.NewSeedPKI(t, "127.0.0.1")
	os.Chmod(p.File("ca.key"), 0o640)
	_, err := pki.OpenAuthority(p.Dir)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a group-readable CA key: %v", err)
	}
}

func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// A revoked device that presents a certificate made by hand after the
// revocation (openssl x509 -req, as the tutorial does: index.txt does not
// know it) may renew again; with its old certificate it may not.
func TestHandMadeCertificateReadmits(t *testing.T) {
	a := tutorialCA(t)
	now := time.Now()
	old, err := a.Sign(pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", newKey(t))}, time.Hour, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Revoke("Kai", "keyCompromise", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err = a.Sign(pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", newKey(t)), Current: old.PEM}, time.Hour, now)
	if got := refusal(t, err); got != pki.RefusedRevoked {
		t.Errorf("with the revoked certificate: refused as %s", got)
	}
	openssl(t, a.Dir, "genrsa", "-out", "Kai2.key", "2048")
	openssl(t, a.Dir, "req", "-new", "-key", "Kai2.key", "-out", "Kai2.csr", "-subj", "/CN=Kai")
	openssl(t, a.Dir, "x509", "-req", "-in", "Kai2.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "Kai2.crt", "-days", "825", "-sha256")
	handMade, _ := os.ReadFile(filepath.Join(a.Dir, "Kai2.crt"))
	if _, err := a.Sign(pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", newKey(t)), Current: handMade}, time.Hour, now); err != nil {
		t.Errorf("with a certificate made after the revocation: %v", err)
	}
}

// A device moving from another CA may renew with this one (the broker let
// it in); sending someone else's certificate is refused.
func TestCurrentCertificateOfAnotherCA(t *testing.T) {
	a := tutorialCA(t)
	other := tutorialpki.NewCA(t, "Old-CA")
	other.Issue(t, "Kai", "Kai", 30)
	other.Issue(t, "Bob", "Bob", 30)
	kai, _ := os.ReadFile(other.File("Kai.crt"))
	bob, _ := os.ReadFile(other.File("Bob.crt"))
	if _, err := a.Sign(pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", newKey(t)), Current: kai}, time.Hour, time.Now()); err != nil {
		t.Errorf("moving from another CA: %v", err)
	}
	_, err := a.Sign(pki.Request{Device: "Kai", CSR: csrFor(t, "Kai", newKey(t)), Current: bob}, time.Hour, time.Now())
	if got := refusal(t, err); got != pki.RefusedNotCurrent {
		t.Errorf("with Bob's certificate: refused as %s", got)
	}
}
