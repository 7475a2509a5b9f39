package main

import (
	"flag"
	"fmt"
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
	// mosquitto_pub's names for the three files of a cert folder.
	caFile, certFile, keyFile string
}

func (f *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.path, "config", "", "read the config from `FILE` (default "+config.DefaultPath+" if it exists)")
	fs.Var(&f.brokers, "broker", "broker `URL`, e.g. ssl://127.0.0.1:8883; repeat or comma-separate for several (overrides broker.urls)")
	fs.StringVar(&f.certDir, "cert-dir", "", "folder `DIR` with ca.crt and the device's <name>.crt/<name>.key (overrides certs.dir)")
	fs.StringVar(&f.certPrefix, "cert-prefix", "", "`PREFIX` of the file names in the cert folder, e.g. certs_ for systemd credentials (overrides certs.prefix)")
	fs.StringVar(&f.caFile, "cafile", "", "CA certificate `FILE`, as mosquitto_pub takes it (overrides certs.ca)")
	fs.StringVar(&f.certFile, "cert", "", "client certificate `FILE`, as mosquitto_pub takes it; needs --key (overrides certs.cert)")
	fs.StringVar(&f.keyFile, "key", "", "client key `FILE`, as mosquitto_pub takes it; needs --cert (overrides certs.key)")
	fs.StringVar(&f.stateDir, "state-dir", "", "folder `DIR` for the outbox and seq state (overrides state_dir)")
	fs.BoolVar(&f.simulate, "simulate", false, "replace the configured sensors with simulated ones")
	fs.StringVar(&f.logLevel, "log-level", "", "log `LEVEL`: debug, info, warn or error (overrides log.level)")
}

// load reads the config file and applies the flags over it.
func (f *configFlags) load() (config.Config, error) {
	cfg, err := loadConfig(f.path)
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
	if f.certFile != "" || f.keyFile != "" || f.caFile != "" {
		if err := f.applyFiles(&cfg.Certs); err != nil {
			return cfg, err
		}
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

// applyFiles takes --cafile, --cert and --key as mosquitto_pub does: paths
// of their own, absolute here so that they do not depend on certs.dir.
func (f *configFlags) applyFiles(c *config.Certs) error {
	if (f.certFile == "") != (f.keyFile == "") {
		return fmt.Errorf("flags: --cert and --key go together (or give --cert-dir DIR, a folder holding ca.crt, <name>.crt and <name>.key)")
	}
	for _, p := range []struct {
		value string
		dst   *string
	}{{f.caFile, &c.CA}, {f.certFile, &c.Cert}, {f.keyFile, &c.Key}} {
		if p.value == "" {
			continue
		}
		abs, err := filepath.Abs(p.value)
		if err != nil {
			return fmt.Errorf("flags: %w", err)
		}
		*p.dst = abs
	}
	if f.certDir == "" && f.certFile != "" {
		c.Dir = filepath.Dir(c.Cert)
	}
	return nil
}

// loadConfig reads the named file, or the default one if it exists.
func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Load(config.DefaultPath, true)
	}
	return config.Load(path, false)
}
