// Package packaging holds the Debian packaging: systemd units, nfpm
// configuration, maintainer scripts and the journald catalog. Its tests
// check that these files agree with the code they configure.
package packaging

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgepub/edgepub/config"
)

func TestShippedConfigParsesToTheDefaults(t *testing.T) {
	// nfpm.yaml installs config/example.yaml, which config.Example embeds.
	cfg, err := config.Parse(strings.NewReader(config.Example))
	if err != nil {
		t.Fatalf("config/example.yaml: %v", err)
	}
	if got := cfg.Broker.URLs; len(got) != 1 || got[0] != config.DefaultBroker {
		t.Errorf("broker.urls = %v, want [%s]", got, config.DefaultBroker)
	}
	if cfg.Certs.Dir != config.DefaultCertDir {
		t.Errorf("certs.dir = %q, want %q", cfg.Certs.Dir, config.DefaultCertDir)
	}
	if cfg.StateDir != config.DefaultStateDir {
		t.Errorf("state_dir = %q, want %q", cfg.StateDir, config.DefaultStateDir)
	}
	// Writing the defaults out must not change behaviour: apart from the
	// comments, this file documents what edgepub does without it.
	def := config.Default()
	if cfg.Outbox != def.Outbox || cfg.Log != def.Log || cfg.Presence != def.Presence {
		t.Errorf("outbox/log/presence differ from config.Default():\n got %+v %+v %+v\nwant %+v %+v %+v",
			cfg.Outbox, cfg.Log, cfg.Presence, def.Outbox, def.Log, def.Presence)
	}
}

// unitValues returns the values of key= in a unit file, in order.
func unitValues(t *testing.T, file, key string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var values []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), key+"="); ok {
			values = append(values, v)
		}
	}
	return values
}

func TestUnitsAgreeWithConfigDefaults(t *testing.T) {
	exec := unitValues(t, "edgepub.service", "ExecStart")
	if len(exec) != 1 {
		t.Fatalf("edgepub.service has %d ExecStart= lines, want 1", len(exec))
	}
	args := strings.Fields(exec[0])
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		t.Errorf("ExecStart lacks %s", name)
		return ""
	}
	if got := flag("--config"); got != config.DefaultPath {
		t.Errorf("ExecStart --config %s, want %s", got, config.DefaultPath)
	}
	state := unitValues(t, "edgepub.service", "StateDirectory")
	if len(state) != 1 || filepath.Join("/var/lib", state[0]) != config.DefaultStateDir {
		t.Errorf("StateDirectory=%v does not make %s", state, config.DefaultStateDir)
	}
	if got := flag("--state-dir"); got != config.DefaultStateDir {
		t.Errorf("ExecStart --state-dir %s, want %s", got, config.DefaultStateDir)
	}
	// The credential id and the prefix edgepub strips must match.
	creds := unitValues(t, "edgepub.service", "LoadCredential")
	if len(creds) != 1 {
		t.Fatalf("LoadCredential=%v, want one certs:<dir>", creds)
	}
	id, dir, _ := strings.Cut(creds[0], ":")
	if dir != config.DefaultCertDir {
		t.Errorf("LoadCredential reads %s, want %s", dir, config.DefaultCertDir)
	}
	if got := flag("--cert-prefix"); got != id+"_" {
		t.Errorf("--cert-prefix %s, want %s_ (systemd names each file <id>_<file>)", got, id)
	}
	if got := flag("--cert-dir"); got != "%d" {
		t.Errorf("--cert-dir %s, want %%d (the credentials directory)", got)
	}
	watched := unitValues(t, "edgepub-certs.path", "PathChanged")
	if len(watched) != 1 || watched[0] != config.DefaultCertDir {
		t.Errorf("edgepub-certs.path watches %v, want %s", watched, config.DefaultCertDir)
	}
}
