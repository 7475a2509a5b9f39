package certs_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/internal/testutil"
)

func TestDiscover(t *testing.T) {
	t.Parallel()
	touch := func(t *testing.T, dir string, names ...string) {
		for _, n := range names {
			writeFile(t, filepath.Join(dir, n), []byte("x"), 0o600)
		}
	}
	for _, tc := range []struct {
		name      string
		files     []string
		names     certs.Names
		wantCert  string
		wantKey   string
		wantCA    string
		wantKind  error
		wantWords []string
	}{
		{name: "one pair", files: []string{"ca.crt", "Kai.crt", "Kai.key"}, wantCert: "Kai.crt", wantKey: "Kai.key"},
		{name: "kubernetes tls secret", files: []string{"ca.crt", "tls.crt", "tls.key"}, wantCert: "tls.crt", wantKey: "tls.key"},
		{name: "cert without key is no candidate", files: []string{"ca.crt", "Kai.crt", "Kai.key", "old.crt"}, wantCert: "Kai.crt", wantKey: "Kai.key"},
		{name: "dot files ignored", files: []string{"ca.crt", "Kai.crt", "Kai.key", ".bak.crt", ".bak.key"}, wantCert: "Kai.crt", wantKey: "Kai.key"},
		{name: "none", files: []string{"ca.crt", "notes.txt"}, wantKind: certs.ErrNoClientCert, wantWords: []string{"no client certificate", "ca.crt, notes.txt", "certs.cert", "certs.key"}},
		{name: "empty folder", wantKind: certs.ErrNoClientCert, wantWords: []string{"found nothing"}},
		{name: "two pairs", files: []string{"ca.crt", "Kai.crt", "Kai.key", "Lea.crt", "Lea.key"}, wantKind: certs.ErrSeveralClientCerts,
			wantWords: []string{"several client certificates", "Kai.crt+Kai.key", "Lea.crt+Lea.key", "certs.cert and certs.key"}},
		{name: "the tutorial's server pair is no candidate", files: []string{"ca.crt", "Kai.crt", "Kai.key", "server.crt", "server.key"}, wantCert: "Kai.crt", wantKey: "Kai.key"},
		{name: "only the server pair", files: []string{"ca.crt", "server.crt", "server.key"}, wantKind: certs.ErrNoClientCert,
			wantWords: []string{"only a server pair", "server.crt", "broker's"}},
		{name: "names given", files: []string{"ca.crt", "Kai.crt", "Kai.key", "server.crt", "server.key"}, names: certs.Names{Cert: "Kai.crt", Key: "Kai.key"}, wantCert: "Kai.crt", wantKey: "Kai.key"},
		{name: "only cert given", files: []string{"ca.crt", "a.crt", "a.key", "b.crt", "b.key"}, names: certs.Names{Cert: "b.crt"}, wantCert: "b.crt", wantKey: "b.key"},
		{name: "only key given", files: []string{"ca.crt", "a.crt", "a.key", "b.crt", "b.key"}, names: certs.Names{Key: "a.key"}, wantCert: "a.crt", wantKey: "a.key"},
		{name: "other CA name", files: []string{"root.pem", "Kai.crt", "Kai.key"}, names: certs.Names{CA: "root.pem"}, wantCert: "Kai.crt", wantKey: "Kai.key", wantCA: "root.pem"},
		{name: "CA file named .crt is not a client", files: []string{"my-ca.crt", "my-ca.key", "Kai.crt", "Kai.key"}, names: certs.Names{CA: "my-ca.crt"}, wantCert: "Kai.crt", wantKey: "Kai.key", wantCA: "my-ca.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			touch(t, dir, tc.files...)
			got, err := certs.Discover(dir, tc.names)
			if tc.wantKind != nil {
				testutil.WantOneLineError(t, err, append(tc.wantWords, dir)...)
				if !errors.Is(err, tc.wantKind) {
					t.Errorf("%v is not %v", err, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantCA := tc.wantCA
			if wantCA == "" {
				wantCA = "ca.crt"
			}
			want := certs.Names{CA: filepath.Join(dir, wantCA), Cert: filepath.Join(dir, tc.wantCert), Key: filepath.Join(dir, tc.wantKey)}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestDiscoverAbsolutePaths(t *testing.T) {
	t.Parallel()
	dir, elsewhere := t.TempDir(), t.TempDir()
	ca := filepath.Join(elsewhere, "fleet-ca.pem")
	got, err := certs.Discover(dir, certs.Names{CA: ca, Cert: filepath.Join(elsewhere, "dev.crt")})
	if err != nil {
		t.Fatal(err)
	}
	want := certs.Names{CA: ca, Cert: filepath.Join(elsewhere, "dev.crt"), Key: filepath.Join(elsewhere, "dev.key")}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// The directory itself need not exist when every name is given.
	if _, err := certs.Discover(filepath.Join(dir, "missing"), certs.Names{Cert: filepath.Join(elsewhere, "dev.crt")}); err != nil {
		t.Error(err)
	}
}
