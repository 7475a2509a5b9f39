package daemon

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/mosquittotest"
)

// A state dir that cannot be used at start stops the start: readings kept
// only in memory would be numbered from seq 1 again by the next run.
func TestUnusableStateDirIsAStartupError(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	cfg := config.Default()
	// Run stops before it dials; the port is closed in any case.
	cfg.Broker.URLs = []string{"ssl://127.0.0.1:1"}
	cfg.Certs.Dir = pki.DeviceDir(t, "Kai")
	cfg.Sensors = config.SimulatedSensors(time.Second)
	// A file where the state dir should be: unusable for root too.
	file := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = file
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Opts{Config: cfg, OpenSensor: simOpener})
	t.Log(err)
	me, _ := user.Current()
	for _, want := range []string{"state dir " + file, "user " + me.Username, "--state-dir DIR", "systemctl start edgepub"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}
