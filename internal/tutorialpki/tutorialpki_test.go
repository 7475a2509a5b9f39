package tutorialpki

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

// The tutorial's `openssl x509 -req` without -extfile makes X.509 v1
// certificates with the broker's address only in the CN: the case edgepub
// must handle, so the helpers must really produce it.
func TestCertificatesAreTheTutorials(t *testing.T) {
	p := New(t, "", Opts{ServerCN: "127.0.0.1", Clients: []string{"Kai"}})
	if v := p.Version(t, "server.crt"); v != 1 {
		t.Errorf("server.crt is X.509 v%d, want v1", v)
	}
	data, err := os.ReadFile(p.File("server.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != "127.0.0.1" || len(c.IPAddresses)+len(c.DNSNames) != 0 {
		t.Errorf("server.crt CN %q, SANs %v %v; want the address as CN only", c.Subject.CommonName, c.IPAddresses, c.DNSNames)
	}
	dir := p.DeviceDir(t, "Kai")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("device folder holds %d files, want ca.crt, Kai.crt, Kai.key", len(entries))
	}
	st, err := os.Stat(dir + "/Kai.key")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("Kai.key mode %v, want 0600", st.Mode().Perm())
	}
}
