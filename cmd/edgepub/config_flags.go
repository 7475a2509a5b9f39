package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgepub/edgepub/config"
)

// configFlags are the flags that override the config file, shared by run
// and check.
type configFlags struct {
	path       string
	brokers    listFlag
	certDir    string
	certPrefix string
	stateDir   string
	simulate   bool
	logLevel   string

	// brokerNote says, after load, that the built-in default broker is
	// used because none was configured; empty otherwise.
	brokerNote string
	// stateDirNote says, after load, that the state dir was chosen for a
	// user run; empty otherwise.
	stateDirNote string
}

// userStateDir is $XDG_STATE_HOME/edgepub, else ~/.local/state/edgepub
// (XDG Base Directory Specification), else the default.
func userStateDir(xdgStateHome, home string) string {
	switch {
	case filepath.IsAbs(xdgStateHome):
		return filepath.Join(xdgStateHome, "edgepub")
	case home != "":
		return filepath.Join(home, ".local", "state", "edgepub")
	}
	return config.DefaultStateDir
}

func (f *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.path, "config", "", "config file (default "+config.DefaultPath+" if it exists)")
	fs.Var(&f.brokers, "broker", "broker URL, e.g. ssl://127.0.0.1:8883; repeat or comma-separate for several (overrides broker.urls)")
	fs.StringVar(&f.certDir, "cert-dir", "", "directory with ca.crt and the device's <name>.crt/<name>.key (overrides certs.dir)")
	fs.StringVar(&f.certPrefix, "cert-prefix", "", "prefix of the file names in the cert dir, e.g. certs_ for systemd credentials (overrides certs.prefix)")
	fs.StringVar(&f.stateDir, "state-dir", "", "directory for the outbox and seq state (overrides state_dir)")
	fs.BoolVar(&f.simulate, "simulate", false, "replace the configured sensors with simulated ones")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (overrides log.level)")
}

// load reads the config file and applies the flags over it.
func (f *configFlags) load() (config.Config, error) {
	path, optional := f.path, false
	if path == "" {
		path, optional = config.DefaultPath, true
	}
	cfg, err := config.Load(path, optional)
	if err != nil {
		return cfg, err
	}
	if len(f.brokers) > 0 {
		cfg.Broker.URLs = f.brokers
	} else if len(cfg.Broker.URLs) == 1 && cfg.Broker.URLs[0] == config.DefaultBroker {
		f.brokerNote = "no broker configured: using the built-in default " + config.DefaultBroker + " (the tutorial's broker); set broker.urls in " + config.DefaultPath + " or pass --broker URL to use another"
	}
	if f.certDir != "" {
		cfg.Certs.Dir = f.certDir
	}
	if f.certPrefix != "" {
		cfg.Certs.Prefix = f.certPrefix
	}
	switch {
	case f.stateDir != "":
		cfg.StateDir = f.stateDir
	case cfg.StateDir == config.DefaultStateDir && os.Geteuid() != 0:
		// /var/lib/edgepub is the service's (StateDirectory=); run by hand,
		// edgepub keeps its seq and outbox in the user's own state dir, so
		// the next run continues seq instead of starting again at 1.
		home, _ := os.UserHomeDir()
		cfg.StateDir = userStateDir(os.Getenv("XDG_STATE_HOME"), home)
		f.stateDirNote = "no state_dir configured and not running as root: using " + cfg.StateDir + " (set state_dir or pass --state-dir DIR to choose another)"
	}
	if f.logLevel != "" {
		cfg.Log.Level = f.logLevel
	}
	if f.simulate {
		cfg.Sensors = config.SimulatedSensors(10 * time.Second)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("flags: %w", err)
	}
	return cfg, nil
}
