package pki_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

// t0 is a fixed "now" for tests that do not run openssl.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

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
