// Package tutorialpki makes certificates for tests the way the tutorial
// does: by running its exact openssl commands (with 2048-bit keys for
// speed), which produce X.509 v1 certificates with the broker's address
// only in the subject CN and no subjectAltName: the case Go rejects by
// default and edgepub must handle. Tests need the openssl command (Debian
// package openssl).
package tutorialpki

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Opts describes a tutorial-style PKI.
type Opts struct {
	// ServerCN is the broker certificate's CN (the tutorial uses the
	// broker's IP address); empty makes no server certificate.
	ServerCN string
	// Clients get a certificate each, CN = name.
	Clients []string
	// Bits is the RSA key size; default 2048 (the tutorial uses 4096).
	Bits int
	// CACN is the CA's CN; default MQTT-CA.
	CACN string
}

// PKI is a folder as the tutorial leaves it on the broker before ca.key is
// removed: ca.key, ca.crt, server.key, server.crt and <client>.key/.crt.
type PKI struct {
	// Dir holds every file.
	Dir string
	// Bits is the RSA key size used.
	Bits int
}

// New runs the tutorial's commands in dir (created if needed; empty means
// a new temporary directory).
func New(tb testing.TB, dir string, opts Opts) *PKI {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	if opts.Bits == 0 {
		opts.Bits = 2048
	}
	if opts.CACN == "" {
		opts.CACN = "MQTT-CA"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	p := &PKI{Dir: dir, Bits: opts.Bits}
	p.Run(tb, "genrsa", "-out", "ca.key", strconv.Itoa(opts.Bits))
	p.Run(tb, "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "1825", "-out", "ca.crt", "-subj", "/CN="+opts.CACN)
	if opts.ServerCN != "" {
		p.Issue(tb, "server", opts.ServerCN, 825)
	}
	for _, c := range opts.Clients {
		p.AddClient(tb, c)
	}
	return p
}

// AddClient issues a client certificate with CN=name as the tutorial does.
func (p *PKI) AddClient(tb testing.TB, name string) { p.Issue(tb, name, name, 825) }

// Issue makes <base>.key and <base>.crt with CN=cn, valid for days, signed
// by the PKI's CA with the tutorial's commands (no -extfile: v1, no SAN).
func (p *PKI) Issue(tb testing.TB, base, cn string, days int) {
	tb.Helper()
	p.Run(tb, "genrsa", "-out", base+".key", strconv.Itoa(p.Bits))
	p.Run(tb, "req", "-new", "-key", base+".key", "-out", base+".csr", "-subj", "/CN="+cn)
	p.Run(tb, "x509", "-req", "-in", base+".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", base+".crt", "-days", strconv.Itoa(days), "-sha256")
}

// File returns the path of a file of the PKI.
func (p *PKI) File(name string) string { return filepath.Join(p.Dir, name) }

// DeviceDir lays out a new certificate folder as the tutorial tells the
// user to for a device: ca.crt, <name>.crt and <name>.key (mode 0600),
// nothing else.
func (p *PKI) DeviceDir(tb testing.TB, name string) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{"ca.crt", 0o644}, {name + ".crt", 0o644}, {name + ".key", 0o600}} {
		CopyFile(tb, p.File(f.name), filepath.Join(dir, f.name), f.mode)
	}
	return dir
}

// Run runs openssl with args in the PKI's folder and returns its output.
func (p *PKI) Run(tb testing.TB, args ...string) string {
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
func (p *PKI) Version(tb testing.TB, certFile string) int {
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

// NewCA makes a CA alone with the tutorial's two commands (CN=cn) in a new
// temporary directory: a second CA for rotation tests, whose clients are
// issued with AddClient like the tutorial's.
func NewCA(t testing.TB, cn string) *PKI {
	t.Helper()
	p := &PKI{Dir: t.TempDir(), Bits: 2048}
	p.Run(t, "genrsa", "-out", "ca.key", "2048")
	p.Run(t, "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "1825", "-out", "ca.crt", "-subj", "/CN="+cn)
	return p
}

// AddClientValidity issues <base>.crt and <base>.key with CN=cn valid
// exactly from notBefore to notAfter, e.g. an already expired certificate.
// OpenSSL 3.0's `x509 -req` has no start or end date option, so this uses
// `openssl ca -startdate -enddate` with a throwaway database; like the
// tutorial's command it writes an X.509 v1 certificate without extensions.
func (p *PKI) AddClientValidity(t testing.TB, base, cn string, notBefore, notAfter time.Time) {
	t.Helper()
	db := filepath.Join(p.Dir, "openssl-ca")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := strings.Join([]string{
		"[ ca ]",
		"default_ca = seed",
		"[ seed ]",
		"database = " + filepath.Join(db, "index.txt"),
		"new_certs_dir = " + db,
		"serial = " + filepath.Join(db, "serial"),
		"rand_serial = yes",
		"unique_subject = no",
		"default_md = sha256",
		"policy = any_name",
		"[ any_name ]",
		"commonName = supplied",
	}, "\n") + "\n"
	write(t, filepath.Join(db, "ca.cnf"), conf)
	if _, err := os.Stat(filepath.Join(db, "index.txt")); err != nil {
		write(t, filepath.Join(db, "index.txt"), "")
	}
	const asn1Time = "20060102150405Z"
	p.Run(t, "genrsa", "-out", base+".key", "2048")
	p.Run(t, "req", "-new", "-key", base+".key", "-out", base+".csr", "-subj", "/CN="+cn)
	p.Run(t, "ca", "-batch", "-notext", "-config", filepath.Join(db, "ca.cnf"),
		"-cert", "ca.crt", "-keyfile", "ca.key", "-in", base+".csr", "-out", base+".crt",
		"-startdate", notBefore.UTC().Format(asn1Time), "-enddate", notAfter.UTC().Format(asn1Time))
}

// NewIntermediate makes a subordinate CA signed by p's CA, as a user would
// with openssl: the tutorial's commands plus an -extfile with
// basicConstraints CA:TRUE (OpenSSL and Go refuse a v1 intermediate). The
// returned PKI's ca.crt and ca.key are the intermediate's, so its AddClient
// issues leaf certificates under it with the tutorial's commands.
func (p *PKI) NewIntermediate(t testing.TB, cn string) *PKI {
	t.Helper()
	in := &PKI{Dir: t.TempDir(), Bits: p.Bits}
	ext := filepath.Join(in.Dir, "intermediate.ext")
	write(t, ext, "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n")
	in.Run(t, "genrsa", "-out", "ca.key", "2048")
	in.Run(t, "req", "-new", "-key", "ca.key", "-out", "ca.csr", "-subj", "/CN="+cn)
	in.Run(t, "x509", "-req", "-in", "ca.csr", "-CA", p.File("ca.crt"), "-CAkey", p.File("ca.key"),
		"-CAcreateserial", "-CAserial", "intermediate.srl", "-out", "ca.crt", "-days", "1825", "-sha256", "-extfile", ext)
	return in
}

// ECKeyForm is how an EC client key is written, as the usual openssl
// commands leave it.
type ECKeyForm string

// EC key forms.
const (
	// ECParamsAndSEC1 is `openssl ecparam -name prime256v1 -genkey`: an "EC
	// PARAMETERS" block followed by the SEC1 "EC PRIVATE KEY".
	ECParamsAndSEC1 ECKeyForm = "ecparam"
	// ECSEC1 is the same with -noout: the "EC PRIVATE KEY" alone.
	ECSEC1 ECKeyForm = "ecparam-noout"
	// ECPKCS8 is `openssl genpkey -algorithm EC`: a PKCS#8 "PRIVATE KEY".
	ECPKCS8 ECKeyForm = "genpkey"
)

// AddECClient issues <name>.crt and <name>.key with CN=name on a P-256 key
// written in form, signed with the tutorial's request and signing commands.
func (p *PKI) AddECClient(t testing.TB, name string, form ECKeyForm) {
	t.Helper()
	key := name + ".key"
	switch form {
	case ECParamsAndSEC1:
		p.Run(t, "ecparam", "-name", "prime256v1", "-genkey", "-out", key)
	case ECSEC1:
		p.Run(t, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
	case ECPKCS8:
		p.Run(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
	default:
		t.Fatalf("unknown EC key form %q", form)
	}
	p.Run(t, "req", "-new", "-key", key, "-out", name+".csr", "-subj", "/CN="+name)
	p.Run(t, "x509", "-req", "-in", name+".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", name+".crt", "-days", "825", "-sha256")
}

// Concat writes the PEM files srcs one after the other into dst (mode
// 0600), as `cat a.crt b.crt > dst` does: a certificate with its chain, or
// a CA bundle.
func Concat(t testing.TB, dst string, srcs ...string) {
	t.Helper()
	var all []byte
	for _, src := range srcs {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	if err := os.WriteFile(dst, all, 0o600); err != nil {
		t.Fatal(err)
	}
}

func write(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}
