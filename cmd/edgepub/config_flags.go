package main

import (
	"flag"
	"fmt"
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
	}
	if f.certDir != "" {
		cfg.Certs.Dir = f.certDir
	}
	if f.certPrefix != "" {
		cfg.Certs.Prefix = f.certPrefix
	}
	if f.stateDir != "" {
		cfg.StateDir = f.stateDir
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
