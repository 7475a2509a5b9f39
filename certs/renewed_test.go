package certs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// The renewed pair is used while it expires after the configured one and is
// the same device's; otherwise the configured pair, with the reason. A
// Source that prefers the renewed folder follows it on Reload.
func TestLoadPreferred(t *testing.T) {
	p := tutorialpki.New(t, "", tutorialpki.Opts{ServerCN: "127.0.0.1", Clients: []string{"Kai"}})
	p.Issue(t, "Kai-900", "Kai", 900)
	p.Issue(t, "Kai-30", "Kai", 30)
	p.Issue(t, "Bob-900", "Bob", 900)
	conf := p.DeviceDir(t, "Kai")
	renewed := filepath.Join(t.TempDir(), "certs")
	install := func(base string, keyBase string) {
		t.Helper()
		os.MkdirAll(renewed, 0o700)
		tutorialpki.CopyFile(t, p.File(base+".crt"), filepath.Join(renewed, "Kai.crt"), 0o644)
		tutorialpki.CopyFile(t, p.File(keyBase+".key"), filepath.Join(renewed, "Kai.key"), 0o600)
	}
	now := time.Now()
	load := func() (string, string) {
		t.Helper()
		b, why, err := certs.LoadPreferred(conf, certs.Names{}, renewed, now)
		if err != nil {
			t.Fatal(err)
		}
		return b.CertFile, why
	}

	if file, why := load(); file != filepath.Join(conf, "Kai.crt") || why != "" {
		t.Errorf("without a renewed pair: %s (%q)", file, why)
	}
	src := certs.NewSource(conf, certs.Names{}, mustLoad(t, conf), nil)
	src.PreferRenewed(renewed)

	install("Kai-900", "Kai-900")
	if file, why := load(); file != filepath.Join(renewed, "Kai.crt") || !strings.Contains(why, "using the renewed pair") {
		t.Errorf("renewed pair expiring later: %s (%q)", file, why)
	}
	if err := src.Reload(now); err != nil || src.Current().CertFile != filepath.Join(renewed, "Kai.crt") {
		t.Errorf("Reload did not switch to the renewed pair: %v, %s", err, src.Current().CertFile)
	}
	for _, c := range []struct{ name, cert, key, why string }{
		{"expiring earlier", "Kai-30", "Kai-30", "expires after the renewed pair"},
		{"another device", "Bob-900", "Bob-900", `is for "Bob"`},
		{"key of another pair", "Kai-900", "Kai-30", "is not used"},
	} {
		install(c.cert, c.key)
		if file, why := load(); file != filepath.Join(conf, "Kai.crt") || !strings.Contains(why, c.why) {
			t.Errorf("%s: %s (%q), want the configured pair because %q", c.name, file, why, c.why)
		}
	}
	if err := src.Reload(now); err != nil || src.Current().CertFile != filepath.Join(conf, "Kai.crt") {
		t.Errorf("Reload did not return to the configured pair: %v, %s", err, src.Current().CertFile)
	}
}

func mustLoad(t *testing.T, dir string) *certs.Bundle {
	t.Helper()
	b, err := certs.Load(dir, certs.Names{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
