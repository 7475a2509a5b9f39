//go:build unix

package inspect_test

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/inspect"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// certs inspect shows a certificate's hostile names escaped, and a
// directoryName-only subjectAltName as one.
func TestInspectEscapesNames(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca, err := pki.NewCA("MQTT-CA", pki.KeyECDSAP256, now)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.crt", ca.CertPEM())
	hostile := tutorialpki.ServerPair(t, ca.Cert, caKey, "evil\n\x1b[2Jx", now.Add(-time.Hour), now.Add(time.Hour))
	write("hostile.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hostile.Certificate[0]}))
	dirOnly := tutorialpki.ServerPair(t, ca.Cert, caKey, "127.0.0.1", now.Add(-time.Hour), now.Add(time.Hour), tutorialpki.DirNameSAN(t, "127.0.0.1"))
	write("dironly.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dirOnly.Certificate[0]}))
	r, err := inspect.Dir(dir, certs.Names{}, now)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	if strings.Contains(out, "\x1b") || strings.Contains(out, "evil\n") {
		t.Errorf("raw control characters in the output:\n%q", out)
	}
	for _, want := range []string{`CN=evil\n\x1b[2Jx`, "only directory or other names"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A FIFO, a device or an oversized file in the folder is reported without
// being read: reading the FIFO would wait forever, /dev/zero never ends.
func TestInspectSkipsSpecialAndHugeFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "ca.crt"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "Kai.crt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Kai.key"), make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan *inspect.Report, 1)
	go func() {
		r, err := inspect.Dir(dir, certs.Names{}, time.Now())
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	var r *inspect.Report
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("inspect hangs on the folder")
	}
	if r == nil {
		return
	}
	for _, f := range r.Files {
		if f.Kind != "other" || !strings.Contains(f.Error, "not read") {
			t.Errorf("%s reported as %+v", f.Name, f)
		}
	}
}
