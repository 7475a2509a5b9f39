package mosquittotest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NewCA makes a CA alone with the seed's two commands (CN=cn) in a new
// temporary directory: a second CA for rotation tests, whose clients are
// issued with AddClient like the seed's.
func NewCA(t testing.TB, cn string) *PKI {
	t.Helper()
	p := &PKI{Dir: t.TempDir()}
	p.run(t, "openssl", "genrsa", "-out", "ca.key", "2048")
	p.run(t, "openssl", "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "1825", "-out", "ca.crt", "-subj", "/CN="+cn)
	return p
}

// AddClientValidity issues <base>.crt and <base>.key with CN=cn valid
// exactly from notBefore to notAfter, e.g. an already expired certificate.
// OpenSSL 3.0's `x509 -req` has no start or end date option, so this uses
// `openssl ca -startdate -enddate` with a throwaway database; like the
// seed's command it writes an X.509 v1 certificate without extensions.
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
	p.run(t, "openssl", "genrsa", "-out", base+".key", "2048")
	p.run(t, "openssl", "req", "-new", "-key", base+".key", "-out", base+".csr", "-subj", "/CN="+cn)
	p.run(t, "openssl", "ca", "-batch", "-notext", "-config", filepath.Join(db, "ca.cnf"),
		"-cert", "ca.crt", "-keyfile", "ca.key", "-in", base+".csr", "-out", base+".crt",
		"-startdate", notBefore.UTC().Format(asn1Time), "-enddate", notAfter.UTC().Format(asn1Time))
}

// NewIntermediate makes a subordinate CA signed by p's CA, as a user would
// with openssl: the seed's commands plus an -extfile with
// basicConstraints CA:TRUE (OpenSSL and Go refuse a v1 intermediate). The
// returned PKI's ca.crt and ca.key are the intermediate's, so its AddClient
// issues leaf certificates under it with the seed's commands.
func (p *PKI) NewIntermediate(t testing.TB, cn string) *PKI {
	t.Helper()
	in := &PKI{Dir: t.TempDir()}
	ext := filepath.Join(in.Dir, "intermediate.ext")
	write(t, ext, "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n")
	in.run(t, "openssl", "genrsa", "-out", "ca.key", "2048")
	in.run(t, "openssl", "req", "-new", "-key", "ca.key", "-out", "ca.csr", "-subj", "/CN="+cn)
	in.run(t, "openssl", "x509", "-req", "-in", "ca.csr", "-CA", p.File("ca.crt"), "-CAkey", p.File("ca.key"),
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
// written in form, signed with the seed's request and signing commands.
func (p *PKI) AddECClient(t testing.TB, name string, form ECKeyForm) {
	t.Helper()
	key := name + ".key"
	switch form {
	case ECParamsAndSEC1:
		p.run(t, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-out", key)
	case ECSEC1:
		p.run(t, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
	case ECPKCS8:
		p.run(t, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
	default:
		t.Fatalf("unknown EC key form %q", form)
	}
	p.run(t, "openssl", "req", "-new", "-key", key, "-out", name+".csr", "-subj", "/CN="+name)
	p.run(t, "openssl", "x509", "-req", "-in", name+".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", name+".crt", "-days", "825", "-sha256")
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
