package certs

import (
	"os"
	"path/filepath"
	"testing"
)

// systemd's LoadCredential=certs:/home/kai/mqtt-certs gives the service
// certs_ca.crt, certs_Kai.crt and certs_Kai.key beside other credentials.
func TestDiscoverWithCredentialPrefix(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"certs_ca.crt", "certs_Kai.crt", "certs_Kai.key", "other_x.crt", "other_x.key"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Discover(dir, Names{Prefix: "certs_"})
	if err != nil {
		t.Fatal(err)
	}
	want := Names{CA: filepath.Join(dir, "certs_ca.crt"), Cert: filepath.Join(dir, "certs_Kai.crt"), Key: filepath.Join(dir, "certs_Kai.key"), Prefix: "certs_"}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	got, err = Discover(dir, Names{Prefix: "certs_", Cert: "Kai.crt", Key: "Kai.key"})
	if err != nil || got.Cert != want.Cert || got.Key != want.Key {
		t.Errorf("named with prefix: %+v, %v", got, err)
	}
}
