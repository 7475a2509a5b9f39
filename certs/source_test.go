package certs_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/testutil"
)

func jsonLogger(buf *testutil.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rotation is a device folder with a Source over it and a CA to renew from.
type rotation struct {
	ca  *pki.CA
	dir string
	src *certs.Source
	log *testutil.Buffer
}

func newRotation(t *testing.T) *rotation {
	t.Helper()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	certPEM, keyPEM := issueClient(t, ca, "Kai")
	dir := deviceDir(t, ca.CertPEM(), "Kai", certPEM, keyPEM)
	b, err := certs.Load(dir, certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	log := &testutil.Buffer{}
	return &rotation{ca: ca, dir: dir, src: certs.NewSource(dir, certs.Names{}, b, jsonLogger(log)), log: log}
}

func (r *rotation) file(name string) string { return filepath.Join(r.dir, name) }

func (r *rotation) serial() string { return r.src.Current().Leaf().SerialNumber.String() }

// clientLeafSerial is the serial of the certificate ClientTLSConfig would
// present at the next handshake.
func clientLeafSerial(t *testing.T, src *certs.Source) string {
	t.Helper()
	conf := certs.ClientTLSConfig(src, certs.TLSOpts{Host: "broker.test"})
	pair, err := conf.GetClientCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf.SerialNumber.String()
}

func TestReloadGoodReplacement(t *testing.T) {
	t.Parallel()
	r := newRotation(t)
	before := r.serial()
	newCert, newKey := issueClient(t, r.ca, "Kai")
	writeFile(t, r.file("Kai.crt"), newCert, 0o644)
	writeFile(t, r.file("Kai.key"), newKey, 0o600)
	if err := r.src.Reload(t0); err != nil {
		t.Fatal(err)
	}
	after := r.serial()
	if after == before || after != parseCertPEM(t, newCert).SerialNumber.String() {
		t.Fatalf("serial %s after reload, was %s", after, before)
	}
	if got := clientLeafSerial(t, r.src); got != after {
		t.Errorf("next handshake would present %s, want %s", got, after)
	}
	if logs := r.log.String(); !strings.Contains(logs, logging.MsgCertRotated) || !strings.Contains(logs, `"identity":"Kai"`) {
		t.Errorf("no rotation record: %s", logs)
	}

	// Reloading unchanged files logs nothing new.
	n := strings.Count(r.log.String(), logging.MsgCertRotated)
	if err := r.src.Reload(t0); err != nil {
		t.Fatal(err)
	}
	if strings.Count(r.log.String(), logging.MsgCertRotated) != n {
		t.Error("an unchanged reload was logged as a rotation")
	}
}

func TestReloadKeepsOldPairOnFailure(t *testing.T) {
	t.Parallel()
	t.Run("broken certificate", func(t *testing.T) {
		r := newRotation(t)
		before := r.serial()
		writeFile(t, r.file("Kai.crt"), []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o644)
		err := r.src.Reload(t0)
		testutil.WantOneLineError(t, err, "still using the previously loaded "+r.file("Kai.crt"), r.file("Kai.crt"))
		if r.serial() != before || clientLeafSerial(t, r.src) != before {
			t.Error("a broken replacement replaced the pair")
		}
	})
	t.Run("cert replaced before its key", func(t *testing.T) {
		r := newRotation(t)
		before := r.serial()
		newCert, newKey := issueClient(t, r.ca, "Kai")
		writeFile(t, r.file("Kai.crt"), newCert, 0o644)
		err := r.src.Reload(t0)
		testutil.WantOneLineError(t, err, "does not match")
		if !errors.Is(err, certs.ErrKeyMismatch) {
			t.Errorf("%v is not ErrKeyMismatch", err)
		}
		if r.serial() != before {
			t.Fatal("a mismatched pair replaced the old one")
		}
		writeFile(t, r.file("Kai.key"), newKey, 0o600)
		if err := r.src.Reload(t0); err != nil {
			t.Fatal(err)
		}
		if r.serial() == before {
			t.Error("the completed pair was not picked up")
		}
	})
	t.Run("expired replacement of a valid pair", func(t *testing.T) {
		r := newRotation(t)
		before := r.serial()
		oldCert, oldKey, err := r.ca.Issue(pki.IssueRequest{CommonName: "Kai", NotBefore: t0.Add(-10 * 24 * time.Hour), NotAfter: t0.Add(-24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, r.file("Kai.crt"), oldCert, 0o644)
		writeFile(t, r.file("Kai.key"), oldKey, 0o600)
		err = r.src.Reload(t0)
		testutil.WantOneLineError(t, err, "still using", "expired")
		if r.serial() != before {
			t.Error("an expired certificate replaced a valid one")
		}
	})
}

// TestExpiredBundleKeepsDaemonUpAndRenews is the flow the lead wires: Load
// returns an expired bundle with a *ValidityError, the daemon keeps running
// with it, and a renewed certificate is picked up by Reload.
func TestExpiredBundleKeepsDaemonUpAndRenews(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	oldCert, oldKey, err := ca.Issue(pki.IssueRequest{CommonName: "Kai", NotBefore: t0.Add(-10 * 24 * time.Hour), NotAfter: t0.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	dir := deviceDir(t, ca.CertPEM(), "Kai", oldCert, oldKey)
	b, err := certs.Load(dir, certs.Names{}, t0)
	var validity *certs.ValidityError
	if !errors.As(err, &validity) || b == nil || !errors.Is(err, certs.ErrExpired) {
		t.Fatalf("Load = %v, %v; want a bundle and an expired *ValidityError", b, err)
	}
	src := certs.NewSource(dir, certs.Names{}, b, nil)

	// Another expired certificate may replace an expired one.
	olderCert, olderKey, err := ca.Issue(pki.IssueRequest{CommonName: "Kai", NotBefore: t0.Add(-20 * 24 * time.Hour), NotAfter: t0.Add(-2 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "Kai.crt"), olderCert, 0o644)
	writeFile(t, filepath.Join(dir, "Kai.key"), olderKey, 0o600)
	if err := src.Reload(t0); !errors.Is(err, certs.ErrExpired) {
		t.Errorf("reload to another expired pair: %v", err)
	}

	renewedCert, renewedKey := issueClient(t, ca, "Kai")
	writeFile(t, filepath.Join(dir, "Kai.crt"), renewedCert, 0o644)
	writeFile(t, filepath.Join(dir, "Kai.key"), renewedKey, 0o600)
	if err := src.Reload(t0); err != nil {
		t.Fatal(err)
	}
	if clientLeafSerial(t, src) != parseCertPEM(t, renewedCert).SerialNumber.String() {
		t.Error("the renewed certificate is not in use")
	}
}

func TestReloadConcurrentWithHandshakes(t *testing.T) {
	t.Parallel()
	r := newRotation(t)
	conf := certs.ClientTLSConfig(r.src, certs.TLSOpts{Host: "broker.test"})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				pair, err := conf.GetClientCertificate(nil)
				if err != nil || pair.Leaf == nil {
					t.Error("no client pair", err)
					return
				}
			}
		}()
	}
	for range 5 {
		c, k := issueClient(t, r.ca, "Kai")
		writeFile(t, r.file("Kai.crt"), c, 0o644)
		writeFile(t, r.file("Kai.key"), k, 0o600)
		if err := r.src.Reload(t0); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
