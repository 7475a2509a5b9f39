package logging

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

func TestTextOutputIsShortAndNamesCritical(t *testing.T) {
	var out bytes.Buffer
	logger := New(Opts{Level: slog.LevelDebug, Stderr: &out})
	logger.Log(t.Context(), LevelCritical, "certificate expired", "device", "kai-pi", MessageID(MsgCertExpired))
	logger.Debug("tick", "backlog", 3)

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out.String())
	}
	want := regexp.MustCompile(`^time=\d\d:\d\d:\d\d\.\d{3} level=CRIT msg="certificate expired" device=kai-pi message_id=` + MsgCertExpired + `$`)
	if !want.MatchString(lines[0]) {
		t.Errorf("line %q does not match %v", lines[0], want)
	}
	if !strings.Contains(lines[1], "level=DEBUG") || !strings.Contains(lines[1], "backlog=3") {
		t.Errorf("debug line %q lacks level or attribute", lines[1])
	}
}

func TestLevelFiltersText(t *testing.T) {
	var out bytes.Buffer
	logger := New(Opts{Level: slog.LevelWarn, Stderr: &out})
	logger.Info("hidden")
	logger.Warn("shown")
	if got := out.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "shown") {
		t.Errorf("level Warn let through %q", got)
	}
}

func TestKeyMaterialNeverReachesTheLog(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	logger := New(Opts{Stderr: &out})
	logger.Info("oops",
		"key", "hunter2",
		"client_key", "also-secret",
		"private", "x",
		"mqtt_password", "pw",
		"pem", string(keyPEM),
		"pem_bytes", keyPEM,
		"ec", ecKey,
		"ed", edKey,
		"pair", tls.Certificate{PrivateKey: ecKey},
		slog.Group("tls", "key", "grouped-secret"),
		"key_file", "/home/kai/mqtt-certs/Kai.key",
	)
	got := out.String()
	for _, leak := range []string{"hunter2", "also-secret", "pw", "PRIVATE KEY", "grouped-secret", ecKey.D.String()} {
		if strings.Contains(got, leak) {
			t.Errorf("log leaks %q:\n%s", leak, got)
		}
	}
	if n := strings.Count(got, redacted); n != 10 {
		t.Errorf("%d attributes redacted, want 10:\n%s", n, got)
	}
	if !strings.Contains(got, "key_file=/home/kai/mqtt-certs/Kai.key") {
		t.Errorf("a key's path must stay readable:\n%s", got)
	}
}
