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
	certPEM, err := os.ReadFile(a.CertFile)
	if err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w: put the CA's ca.crt there", a.CertFile, errors.Unwrap(err))
	}
	if a.Chain, err = ParseCertificates(certPEM); err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w", a.CertFile, err)
	}
	a.Cert = a.Chain[0]
	keyPEM, err := os.ReadFile(a.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("CA key %s: %w", a.KeyFile, err)
	}
	if a.key, err = parseSigningKey(keyPEM); err != nil {
		return nil, fmt.Errorf("CA key %s: %w", a.KeyFile, err)
	}
	if !publicKeysEqual(a.key.Public(), a.Cert.PublicKey) {
		return nil, fmt.Errorf("CA key %s does not match CA certificate %s (CN %s): use the ca.key made together with this ca.crt", a.KeyFile, a.CertFile, a.Cert.Subject.CommonName)
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

// parseSigningKey reads the key forms openssl writes: PKCS#8, PKCS#1 and
// SEC1 (with or without an EC PARAMETERS block before it).
func parseSigningKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key in it")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the key is encrypted with a passphrase: the signer runs unattended; decrypt a copy with `openssl pkey -in ca.key -out ca.key.plain`, chmod 600 it and use that")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("the key does not parse: %w", err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		return s, nil
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// lock takes an exclusive lock on the CA database, so that `ca revoke` and a
// running `ca serve` never write index.txt at the same time.
func (a *Authority) lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(a.Dir, ".edgepub-ca.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the CA database in %s: %w", a.Dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the CA database in %s: %w", a.Dir, err)
	}
	return func() { f.Close() }, nil
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
