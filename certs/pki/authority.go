package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Authority is a CA folder opened for signing: the CA certificate and key
// plus openssl ca's database (index.txt, crlnumber, newcerts/) in the
// folder that holds the key.
type Authority struct {
	// Dir holds ca.key and the database.
	Dir string
	// CertFile is ca.crt; CRLFile (crl.pem) is written beside it, where
	// Mosquitto can read it.
	CertFile, KeyFile, CRLFile string
	// Cert is the CA certificate; Chain is every certificate of CertFile,
	// sent to devices with what they are issued.
	Cert  *x509.Certificate
	Chain []*x509.Certificate

	key crypto.Signer
}

// privateDirSuffix is what `certs init` appends to the certificate folder
// to name the folder of ca.key.
const privateDirSuffix = "-ca-private"

// OpenAuthority opens a CA folder: the tutorial's (ca.crt and ca.key side by
// side) or the `…-ca-private` folder `certs init` writes (ca.key alone,
// ca.crt in the sibling folder without the suffix). It refuses a CA key that
// group or others may read.
func OpenAuthority(dir string) (*Authority, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("CA folder %s: %w", dir, err)
	}
	a := &Authority{Dir: dir, KeyFile: filepath.Join(dir, "ca.key"), CertFile: filepath.Join(dir, "ca.crt")}
	if _, err := os.Stat(a.CertFile); err != nil && strings.HasSuffix(dir, privateDirSuffix) {
		a.CertFile = filepath.Join(strings.TrimSuffix(dir, privateDirSuffix), "ca.crt")
	}
	a.CRLFile = filepath.Join(filepath.Dir(a.CertFile), "crl.pem")

	st, err := os.Stat(a.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("CA key %s: %w: pass --ca-dir with the folder holding ca.key (the tutorial's CA folder, or the …%s folder of certs init)", a.KeyFile, errors.Unwrap(err), privateDirSuffix)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("CA key %s is readable by group or others (mode %04o): run chmod 600 %s", a.KeyFile, st.Mode().Perm(), a.KeyFile)
	}
	ca, err := LoadCA(a.CertFile, a.KeyFile)
	if err != nil {
		return nil, err
	}
	a.Cert, a.key = ca.Cert, ca.key
	// Devices get every certificate of ca.crt with what they are issued.
	certPEM, err := os.ReadFile(a.CertFile)
	if err != nil {
		return nil, err
	}
	if a.Chain, err = ParseCertificates(certPEM); err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w", a.CertFile, err)
	}
	return a, nil
}

// ParseCertificates returns the certificates of PEM data in order, or an
// error if there is none.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate (-----BEGIN CERTIFICATE-----) in it")
	}
	return out, nil
}

// lock takes an exclusive lock on the CA database, so that `ca revoke` and a
// running `ca serve` never write index.txt at the same time.
func (a *Authority) lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(a.Dir, "index.txt.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the CA database in %s: %w", a.Dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the CA database in %s: %w", a.Dir, err)
	}
	return func() { f.Close() }, nil
}

// lockedIndex locks the CA database and reads index.txt; unlock when done.
func (a *Authority) lockedIndex() (entries []Entry, unlock func(), err error) {
	if unlock, err = a.lock(); err != nil {
		return nil, nil, err
	}
	if entries, err = a.Index(); err != nil {
		unlock()
		return nil, nil, err
	}
	return entries, unlock, nil
}

// keyAlgorithm names a public key for logs and refusals.
func keyAlgorithm(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
