package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/sensors/catalog"
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

// register adds the config flags to fs, but for those named in omit: a
// command's help lists only the flags it uses.
func (f *configFlags) register(fs *flag.FlagSet, omit ...string) {
	all := flag.NewFlagSet("", flag.ContinueOnError)
	all.StringVar(&f.path, "config", "", "read the config from `FILE` (default "+config.DefaultPath+" if it exists)")
	all.Var(&f.brokers, "broker", "broker `URL`, e.g. ssl://127.0.0.1:8883; repeat or comma-separate for several (overrides broker.urls)")
	all.StringVar(&f.certDir, "cert-dir", "", "folder `DIR` with ca.crt and the device's <name>.crt/<name>.key (overrides certs.dir)")
	all.StringVar(&f.certPrefix, "cert-prefix", "", "`PREFIX` of the file names in the cert folder, e.g. certs_ for systemd credentials (overrides certs.prefix)")
	all.StringVar(&f.caFile, "cafile", "", "CA certificate `FILE`, as mosquitto_pub takes it (overrides certs.ca)")
	all.StringVar(&f.certFile, "cert", "", "client certificate `FILE`, as mosquitto_pub takes it; needs --key (overrides certs.cert)")
	all.StringVar(&f.keyFile, "key", "", "client key `FILE`, as mosquitto_pub takes it; needs --cert (overrides certs.key)")
	all.StringVar(&f.stateDir, "state-dir", "", "folder `DIR` for the outbox and seq state (overrides state_dir)")
	all.BoolVar(&f.simulate, "simulate", false, "replace the configured sensors with simulated ones")
	all.StringVar(&f.logLevel, "log-level", "", "log `LEVEL`: debug, info, warn or error (overrides log.level)")
	all.VisitAll(func(fl *flag.Flag) {
		if !slices.Contains(omit, fl.Name) {
			fs.Var(fl.Value, fl.Name, fl.Usage)
		}
	})
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
	// The file was valid: what Validate finds now came with a flag.
	if err := cfg.Validate(); err != nil {
		return cfg, asFlagError(err)
	}
	return cfg, nil
}

// flagError is a flag whose value the config rejects.
type flagError struct {
	flag string // without dashes
	err  error
	fix  string
}

func (e *flagError) Error() string { return "--" + e.flag + ": " + e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

// keyFlags maps config keys to the flags that set them.
var keyFlags = []struct{ key, flag string }{
	{"broker.urls", "broker"}, {"certs.dir", "cert-dir"}, {"certs.prefix", "cert-prefix"},
	{"certs.ca", "cafile"}, {"certs.cert", "cert"}, {"certs.key", "key"},
	{"state_dir", "state-dir"}, {"log.level", "log-level"},
}

func asFlagError(err error) error {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		for _, kf := range keyFlags {
			if strings.HasPrefix(fe.Key, kf.key) {
				return &flagError{flag: kf.flag, err: fe.Err, fix: "correct the value of --" + kf.flag}
			}
		}
	}
	return fmt.Errorf("flags: %w", err)
}

// applyFiles takes --cafile, --cert and --key as mosquitto_pub does: paths
// of their own, absolute here so that they do not depend on certs.dir.
func (f *configFlags) applyFiles(c *config.Certs) error {
	if (f.certFile == "") != (f.keyFile == "") {
		given, missing := "cert", "key"
		if f.certFile == "" {
			given, missing = "key", "cert"
		}
		return &flagError{flag: given, err: errors.New("given without --" + missing),
			fix: "give --" + missing + " FILE as well, or instead --cert-dir DIR, a folder holding ca.crt, <name>.crt and <name>.key"}
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
		return configParser().Load(config.DefaultPath, true)
	}
	return configParser().Load(path, false)
}

// configParser checks the sensors against the drivers' catalog too, so
// that a misspelt type is a config error rather than a sensor that run
// retries forever, and gives each sensor a default timeout its type's
// reads fit in.
func configParser() config.Parser {
	return config.Parser{CheckSensors: checkSensors, ReadTime: catalog.ReadTime}
}

// checkSensors adds to catalog.Check what a sensor's wiring needs: a bus
// for I²C chips, a ROM id for DS18B20 probes, an address the chip can have.
func checkSensors(specs []config.Sensor) error {
	errs := []error{catalog.Check(specs)}
	for i, s := range specs {
		t, ok := catalog.Lookup(s.Type)
		if !ok {
			continue // catalog.Check said so
		}
		key := fmt.Sprintf("sensors[%d].", i)
		spi := strings.HasPrefix(s.Bus, "/dev/spidev")
		switch {
		case strings.Contains(t.Bus, "i2c") && s.Bus == "":
			errs = append(errs, fieldError(key+"bus", "bus is missing: name the bus the %s is on, such as bus: /dev/i2c-1 (edgepub never guesses)", s.Type))
		case spi && !strings.Contains(t.Bus, "spi"):
			errs = append(errs, fieldError(key+"bus", "%s is an SPI port, but the %s has only %s", s.Bus, s.Type, t.Bus))
		case s.Type == "ds18b20" && s.ROM == "":
			errs = append(errs, fieldError(key+"rom", "rom is missing: give the probe's id, such as rom: 28-0316a2799bff (edgepub sensors scan lists them)"))
		case s.Type == "ds18b20" && s.Bridge == "ds2482" && s.Bus == "":
			errs = append(errs, fieldError(key+"bus", "bus is missing: name the I2C bus of the DS2482 bridge, such as bus: /dev/i2c-1"))
		case s.Address != 0 && !spi && len(t.Addresses) > 0 && !slices.Contains(t.Addresses, s.Address):
			errs = append(errs, fieldError(key+"address", "address 0x%02x: a %s answers only at %s", s.Address, s.Type, hexList(t.Addresses)))
		}
	}
	return errors.Join(errs...)
}

func fieldError(key, format string, args ...any) error {
	return &config.FieldError{Key: key, Err: fmt.Errorf(format, args...)}
}

func hexList(addrs []uint16) string {
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = fmt.Sprintf("0x%02x", a)
	}
	return strings.Join(parts, ", ")
}
