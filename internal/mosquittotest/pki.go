// Package mosquittotest runs a real Mosquitto from Debian's package for
// integration tests, set up exactly as the seed tutorial describes: a
// private CA made with openssl, a TLS listener with require_certificate and
// use_identity_as_username, and ACLs by CN.
package mosquittotest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// PKI is a CA with server and client certificates made by the seed
// tutorial's exact openssl commands, only with 2048-bit keys for speed. The
// certificates are therefore X.509 v1 with no subjectAltName: the case Go
// rejects by default and edgepub must handle.
type PKI struct {
	Dir string
}

// NewSeedPKI makes ca.crt, server.crt (CN=serverHost) and one certificate per
// client name in a temporary directory, plus "monitor", the read-all
// subscriber the harness uses.
func NewSeedPKI(t testing.TB, serverHost string, clients ...string) *PKI {
	t.Helper()
	p := &PKI{Dir: t.TempDir()}
	p.run(t, "openssl", "genrsa", "-out", "ca.key", "2048")
	p.run(t, "openssl", "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "1825", "-out", "ca.crt", "-subj", "/CN=MQTT-CA")
	p.run(t, "openssl", "genrsa", "-out", "server.key", "2048")
	p.run(t, "openssl", "req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN="+serverHost)
	p.run(t, "openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "825", "-sha256")
	for _, c := range append([]string{"monitor"}, clients...) {
		p.AddClient(t, c)
	}
	return p
}

// AddClient issues a client certificate with CN=name as the seed does.
func (p *PKI) AddClient(t testing.TB, name string) {
	t.Helper()
	p.run(t, "openssl", "genrsa", "-out", name+".key", "2048")
	p.run(t, "openssl", "req", "-new", "-key", name+".key", "-out", name+".csr", "-subj", "/CN="+name)
	p.run(t, "openssl", "x509", "-req", "-in", name+".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", name+".crt", "-days", "825", "-sha256")
}

// File returns the path of a file in the PKI directory.
func (p *PKI) File(name string) string { return filepath.Join(p.Dir, name) }

// DeviceDir lays out a cert directory as a device gets it in the seed's
// deployment: ca.crt, <name>.crt and <name>.key (mode 0600), nothing else.
func (p *PKI) DeviceDir(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"ca.crt", name + ".crt", name + ".key"} {
		data, err := os.ReadFile(p.File(f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (p *PKI) run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = p.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
