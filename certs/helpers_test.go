package certs_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs/pki"
)

// t0 is a fixed "now" for tests that do not run openssl.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newCA(t testing.TB, name string, kt pki.KeyType) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(name, kt, t0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issueClient(t testing.TB, ca *pki.CA, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	c, k, err := ca.IssueClient(name, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// deviceDir writes ca.crt, <name>.crt and <name>.key (0600) into a new
// folder, as a user following the seed would.
func deviceDir(t testing.TB, caPEM []byte, name string, certPEM, keyPEM []byte) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.crt"), caPEM, 0o644)
	writeFile(t, filepath.Join(dir, name+".crt"), certPEM, 0o644)
	writeFile(t, filepath.Join(dir, name+".key"), keyPEM, 0o600)
	return dir
}

func parseKeyPEM(t testing.TB, keyPEM []byte) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatal("no PEM key")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.(crypto.Signer)
}

func parseCertPEM(t testing.TB, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reencode stores a PKCS#8 key as PKCS#1 (RSA) or SEC1 (ECDSA).
func reencode(t testing.TB, keyPEM []byte, encoding string) []byte {
	t.Helper()
	switch key := parseKeyPEM(t, keyPEM).(type) {
	case *rsa.PrivateKey:
		if encoding == "PKCS#1" {
			return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		}
	case *ecdsa.PrivateKey:
		if encoding == "SEC1" {
			der, err := x509.MarshalECPrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		}
	}
	if encoding != "PKCS#8" {
		t.Fatalf("cannot store this key as %s", encoding)
	}
	return keyPEM
}

func bigOne() *big.Int { return big.NewInt(1) }
