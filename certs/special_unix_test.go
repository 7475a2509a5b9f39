//go:build unix

package certs_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/testutil"
)

// A FIFO, a device or an oversized file where a certificate belongs is
// refused at once: reading the FIFO would wait for a writer forever, and
// /dev/zero would fill the memory.
func TestLoadRefusesSpecialAndHugeFiles(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	certPEM, keyPEM := issueClient(t, ca, "Kai")
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, path string)
		words []string
	}{
		{"fifo", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"named pipe", "not a regular file"}},
		{"dev-zero", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, []string{"character device", "not a regular file"}},
		{"huge", func(t *testing.T, path string) {
			writeFile(t, path, append(ca.CertPEM(), make([]byte, 2<<20)...), 0o644)
		}, []string{"more than 1048576 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := deviceDir(t, ca.CertPEM(), "Kai", certPEM, keyPEM)
			ca := filepath.Join(dir, "ca.crt")
			if err := os.Remove(ca); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, ca)

			done := make(chan error, 1)
			go func() {
				_, err := certs.Load(dir, certs.Names{}, t0)
				done <- err
			}()
			select {
			case err := <-done:
				testutil.WantOneLineError(t, err, append(tc.words, ca)...)
				if !errors.Is(err, certs.ErrNotPEM) {
					t.Errorf("%v is not ErrNotPEM", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("Load hangs on the file")
			}

		})
	}
}
