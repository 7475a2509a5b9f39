package inspect_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/inspect"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

func TestInspectSeedBrokerFolder(t *testing.T) {
	t.Parallel()
	seed := tutorialpki.New(t, t.TempDir(), tutorialpki.Opts{ServerCN: "127.0.0.1", Clients: []string{"Kai"}})
	foreign := tutorialpki.New(t, t.TempDir(), tutorialpki.Opts{Clients: []string{"Eve"}})
	tutorialpki.CopyFile(t, foreign.File("Eve.crt"), seed.File("Eve.crt"), 0o644)
	if err := os.Chmod(seed.File("Kai.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r, err := inspect.Dir(seed.Dir, certs.Names{}, now)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]inspect.FileReport{}
	for _, f := range r.Files {
		files[f.Name] = f
	}
	// The seed's broker folder holds two pairs; server.crt is the broker's,
	// so Kai's is the device pair.
	if !r.Bundle.OK || r.Bundle.Identity != "Kai" {
		t.Errorf("bundle %+v", r.Bundle)
	}
	kai := files["Kai.crt"]
	if kai.Kind != "certificate" || len(kai.Certificates) != 1 {
		t.Fatalf("Kai.crt: %+v", kai)
	}
	kc := kai.Certificates[0]
	if kc.CommonName != "Kai" || kc.Version != 1 || !kc.ChainOK || kc.KeyType != "RSA" || kc.KeyBits != 2048 ||
		kc.DaysLeft < 824 || kc.DaysLeft > 825 || kc.Status != certs.LevelOK || len(kc.DNSNames)+len(kc.IPAddresses) != 0 ||
		strings.Join(kc.MatchingKeys, ",") != "Kai.key" || kc.Serial == "" {
		t.Errorf("Kai.crt certificate: %+v", kc)
	}
	if eve := files["Eve.crt"].Certificates[0]; eve.ChainOK || !strings.Contains(eve.Chain, "NOT signed") {
		t.Errorf("Eve.crt chain: %+v", eve)
	}
	if ca := files["ca.crt"].Certificates[0]; !ca.ChainOK || !ca.IsCA || strings.Join(ca.MatchingKeys, ",") != "ca.key" {
		t.Errorf("ca.crt: %+v", ca)
	}
	key := files["Kai.key"]
	if key.Kind != "private_key" || key.Key == nil || key.Key.Type != "RSA" || key.Key.Bits != 2048 || key.Key.Encoding != "PKCS#8" ||
		strings.Join(key.Key.Matches, ",") != "Kai.crt" || key.Mode != "0644" {
		t.Errorf("Kai.key: %+v %+v", key, key.Key)
	}
	if len(key.Warnings) != 1 || !strings.Contains(key.Warnings[0], "chmod 600") {
		t.Errorf("Kai.key warnings %q", key.Warnings)
	}
	if w := files["ca.key"].Warnings; len(w) != 1 || !strings.Contains(w[0], "CA's private key") {
		t.Errorf("ca.key warnings %q", w)
	}
	if w := files["server.key"].Warnings; len(w) != 0 {
		t.Errorf("server.key warnings %q", w)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if key.Owner != me.Username {
		t.Errorf("owner %q, want %q", key.Owner, me.Username)
	}
	if files["Kai.csr"].Kind != "certificate_request" || files["ca.srl"].Kind != "other" {
		t.Errorf("csr %q, srl %q", files["Kai.csr"].Kind, files["ca.srl"].Kind)
	}

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{"bundle       ", "Kai.crt", "CN=Kai", "no subjectAltName (CN Kai only)", "X.509 v1", "RSA 2048", "belongs to   Kai.crt", "NOT signed by the CA file"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	// Labels of a block line up.
	cols := map[int]bool{}
	for _, line := range strings.Split(out, "\n") {
		if m := regexp.MustCompile(`^  (subject|issuer|serial|valid|key|belongs to|chain)( +)\S`).FindStringSubmatchIndex(line); m != nil {
			cols[m[5]] = true
		}
	}
	if len(cols) != 1 {
		t.Errorf("values start in %d different columns:\n%s", len(cols), out)
	}
	t.Log("\n" + out)
}

func TestInspectDeviceFolderJSON(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mqtt-certs")
	if _, err := pki.InitPKI(pki.InitOpts{Dir: dir, Host: "127.0.0.1", Clients: []string{"Kai"}, Now: t0}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"server.crt", "server.key"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := inspect.Dir(dir, certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Bundle.OK || r.Bundle.Identity != "Kai" || r.Bundle.CertFile != filepath.Join(dir, "Kai.crt") {
		t.Errorf("bundle %+v", r.Bundle)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	collectKeys(generic, keys)
	var names []string
	for k := range keys {
		names = append(names, k)
		if !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(k) {
			t.Errorf("JSON key %q is not snake_case", k)
		}
	}
	sort.Strings(names)
	for _, want := range []string{"dir", "checked_at", "bundle", "ok", "identity", "files", "name", "mode", "owner", "kind", "certificates", "common_name", "not_after", "days_left", "chain_ok", "key_type", "matching_keys", "key", "encoding", "matches"} {
		if !keys[want] {
			t.Errorf("JSON lacks %q (has %v)", want, names)
		}
	}
}

func collectKeys(v any, keys map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			keys[k] = true
			collectKeys(val, keys)
		}
	case []any:
		for _, val := range x {
			collectKeys(val, keys)
		}
	}
}

func TestInspectMissingFolder(t *testing.T) {
	t.Parallel()
	_, err := inspect.Dir(filepath.Join(t.TempDir(), "nope"), certs.Names{}, t0)
	testutil.WantOneLineError(t, err, "nope", "does not exist")
}

// t0 is a fixed "now" for tests that do not run openssl.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
