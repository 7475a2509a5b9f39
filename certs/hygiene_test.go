package certs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/testutil"
)

func TestLogWarnings(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	c, k := issueClient(t, ca, "Kai")
	dir := deviceDir(t, ca.CertPEM(), "Kai", c, k)
	writeFile(t, filepath.Join(dir, "ca.key"), mustKeyPEM(t, ca), 0o644)
	writeFile(t, filepath.Join(dir, "Kai.key"), k, 0o640)
	b, err := certs.Load(dir, certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	buf := &testutil.Buffer{}
	b.LogWarnings(context.Background(), jsonLogger(buf))
	recs := records(t, buf)
	if len(recs) != 2 {
		t.Fatalf("records %v", recs)
	}
	levels := map[string]string{}
	for _, r := range recs {
		levels[r["file"].(string)] = r["level"].(string)
		if r["file"] == filepath.Join(dir, "ca.key") && r[logging.MessageIDKey] != logging.MsgCAKeyOnDevice {
			t.Errorf("CA key record without message id: %v", r)
		}
	}
	if levels[filepath.Join(dir, "ca.key")] != "ERROR" || levels[filepath.Join(dir, "Kai.key")] != "WARN" {
		t.Errorf("levels %v", levels)
	}
}

// A key others may read is a warning; one others may write is an error,
// because whoever changes it controls the device's identity.
func TestKeyModes(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	c, k := issueClient(t, ca, "Kai")
	for _, tc := range []struct {
		mode     os.FileMode
		wantErr  bool
		warnings int
	}{
		{0o600, false, 0}, {0o400, false, 0}, {0o640, false, 1}, {0o604, false, 1},
		{0o620, true, 0}, {0o602, true, 0}, {0o666, true, 0},
	} {
		dir := deviceDir(t, ca.CertPEM(), "Kai", c, k)
		key := filepath.Join(dir, "Kai.key")
		if err := os.Chmod(key, tc.mode); err != nil {
			t.Fatal(err)
		}
		b, err := certs.Load(dir, certs.Names{}, t0)
		if tc.wantErr {
			testutil.WantOneLineError(t, err, key, "written by group or others", "chmod 600")
			continue
		}
		if err != nil {
			t.Errorf("mode %04o: %v", tc.mode, err)
			continue
		}
		if len(b.Warnings) != tc.warnings {
			t.Errorf("mode %04o: warnings %v, want %d", tc.mode, b.Warnings, tc.warnings)
		}
	}
}
