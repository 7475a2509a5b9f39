package certs_test

import (
	"context"
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
