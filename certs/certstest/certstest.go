// Package certstest makes certificates for tests the way the seed tutorial
// does: by running its exact openssl commands (with 2048-bit keys for speed),
// which produce X.509 v1 certificates without subjectAltName. Tests need the
// openssl command (Debian package openssl).
package certstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// SeedOpts describes a seed-style PKI.
type SeedOpts struct {
	// ServerCN is the broker certificate's CN (the seed uses the broker's IP).
	ServerCN string
	// Clients get a certificate each, CN = name.
	Clients []string
	// Bits is the RSA key size; default 2048 (the seed uses 4096).
	Bits int
	// CACN is the CA's CN; default MQTT-CA.
	CACN string
}

// SeedPKI is a folder as the seed tutorial leaves it on the broker before
// ca.key is removed: ca.key, ca.crt, server.key, server.crt and
// <client>.key/.crt.
type SeedPKI struct {
	// Dir holds every file.
	Dir string
	// Bits is the RSA key size used.
	Bits int
}

// File returns the path of a file of the PKI.
func (p *SeedPKI) File(name string) string { return filepath.Join(p.Dir, name) }

// NewSeedPKI runs the seed's commands in dir (created if needed).
func NewSeedPKI(tb testing.TB, dir string, opts SeedOpts) *SeedPKI {
	tb.Helper()
	if opts.Bits == 0 {
		opts.Bits = 2048
	}
	if opts.CACN == "" {
		opts.CACN = "MQTT-CA"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	p := &SeedPKI{Dir: dir, Bits: opts.Bits}
	bits := strconv.Itoa(opts.Bits)
	p.Run(tb, "genrsa", "-out", "ca.key", bits)
	p.Run(tb, "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "1825", "-out", "ca.crt", "-subj", "/CN="+opts.CACN)
	if opts.ServerCN != "" {
		p.Issue(tb, "server", opts.ServerCN, 825)
	}
	for _, c := range opts.Clients {
		p.Issue(tb, c, c, 825)
	}
	return p
}

// Issue makes <base>.key and <base>.crt with CN=cn, valid for days, signed
// by the PKI's CA with the seed's commands (no -extfile: v1, no SAN).
func (p *SeedPKI) Issue(tb testing.TB, base, cn string, days int) {
	tb.Helper()
	p.Run(tb, "genrsa", "-out", base+".key", strconv.Itoa(p.Bits))
	p.Run(tb, "req", "-new", "-key", base+".key", "-out", base+".csr", "-subj", "/CN="+cn)
	p.Run(tb, "x509", "-req", "-in", base+".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", base+".crt", "-days", strconv.Itoa(days), "-sha256")
}

// Run runs openssl with args in the PKI's folder and returns its output.
func (p *SeedPKI) Run(tb testing.TB, args ...string) string {
	tb.Helper()
	return RunIn(tb, p.Dir, "openssl", args...)
}

// RunIn runs a command in dir and fails the test with its output if it fails.
func RunIn(tb testing.TB, dir, name string, args ...string) string {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		tb.Fatalf("%s is not installed (apt-get install openssl): %v", name, err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Version returns the X.509 version of a certificate file as openssl prints
// it ("Version: 1 (0x0)" gives 1).
func (p *SeedPKI) Version(tb testing.TB, certFile string) int {
	tb.Helper()
	out := p.Run(tb, "x509", "-in", certFile, "-noout", "-text")
	i := strings.Index(out, "Version: ")
	if i < 0 {
		tb.Fatalf("no version in openssl output for %s:\n%s", certFile, out)
	}
	v, err := strconv.Atoi(strings.Fields(out[i+len("Version: "):])[0])
	if err != nil {
		tb.Fatalf("version of %s: %v", certFile, err)
	}
	return v
}

// DeviceDir copies ca.crt and the client's <name>.crt and <name>.key into a
// new folder, as the seed tells the user to do for a device, and returns it.
// The key gets mode 0600 as the seed asks.
func (p *SeedPKI) DeviceDir(tb testing.TB, dir, name string) string {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{"ca.crt", 0o644}, {name + ".crt", 0o644}, {name + ".key", 0o600}} {
		CopyFile(tb, p.File(f.name), filepath.Join(dir, f.name), f.mode)
	}
	return dir
}

// CopyFile copies src to dst with mode.
func CopyFile(tb testing.TB, src, dst string, mode os.FileMode) {
	tb.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil {
		tb.Fatal(err)
	}
}
