package pki_test

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
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

// wantErr checks that err is one line mentioning every word, case-insensitively.
func wantErr(t testing.TB, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", words)
	}
	msg := strings.ToLower(err.Error())
	for _, w := range words {
		if !strings.Contains(msg, strings.ToLower(w)) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans several lines: %q", err)
	}
}
