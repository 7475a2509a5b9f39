package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Sentinel errors of Validate; each FieldError wraps one of them.
var (
	ErrNoBroker         = errors.New("at least one broker URL is needed, e.g. ssl://broker.example:8883")
	ErrBrokerURL        = errors.New("broker URL must look like ssl://HOST:8883 (schemes ssl, tls, mqtts, tcps: edgepub only speaks mutual TLS)")
	ErrKeepAlive        = errors.New("keepalive must be between 5s and 20m")
	ErrConnectTimeout   = errors.New("connect_timeout must be between 1s and 5m")
	ErrBackoff          = errors.New("backoff_min must be at least 100ms and backoff_max at least backoff_min")
	ErrStartJitter      = errors.New("start_jitter must be between 0 and 10m")
	ErrInFlight         = errors.New("in_flight must be between 1 and 65535 (MQTT message ids are 16-bit)")
	ErrVerifyDelivery   = errors.New("verify_delivery must be hold, warn or off")
	ErrVerifyInterval   = errors.New("verify_interval must be between 10s and 24h")
	ErrCertDir          = errors.New("certs.dir must name the directory holding ca.crt and the client's .crt/.key")
	ErrCertPair         = errors.New("certs.cert and certs.key must be set together")
	ErrCertPrefix       = errors.New("certs.prefix is a file name prefix such as certs_, without '/'")
	ErrExpiryDays       = errors.New("warn_days must be at least error_days, and both at least 0")
	ErrStateDir         = errors.New("state_dir must name a directory edgepub can write, e.g. /var/lib/edgepub")
	ErrOutboxSize       = errors.New("max_bytes must be at least 64KiB")
	ErrNegative         = errors.New("must not be negative")
	ErrSyncWindow       = errors.New("sync_window must be between 10ms and 1m")
	ErrHoldUnsynced     = errors.New("hold_unsynced must be between 0 (do not hold) and 24h")
	ErrMemoryLimit      = errors.New("memory_limit must be between 1 and 1000000 readings")
	ErrLogLevel         = errors.New("log level must be debug, info, warn or error")
	ErrHealthInterval   = errors.New("health_interval must be 0 (off) or at least 1s")
	ErrDiscoveryPrefix  = errors.New("discovery_prefix must be a plain topic level such as homeassistant")
	ErrNoSensors        = errors.New("at least one sensor is needed (or run with --simulate)")
	ErrSensorName       = errors.New("sensor name must be 1-64 characters of letters, digits, '-' and '_' (it becomes a topic level)")
	ErrDuplicateSensor  = errors.New("sensor name is used twice: each sensor needs its own name")
	ErrSensorType       = errors.New("sensor type is missing")
	ErrSensorInterval   = errors.New("interval must be between 10ms and 24h")
	ErrSensorTimeout    = errors.New("timeout must be between 5ms and 1m, and shorter than the interval")
	ErrSensorSamples    = errors.New("samples must be between 1 and 100")
	ErrSensorHeartbeat  = errors.New("heartbeat needs a deadband, and must be at least the interval")
	ErrSensorField      = errors.New("field names are lower_snake_case with a unit suffix, such as temperature_c")
	ErrCalibrationScale = errors.New("scale must not be 0")
	ErrBridge           = errors.New("bridge must be sysfs (the kernel's w1-gpio bus) or ds2482 (an I2C bridge at bus and address)")
	ErrROM              = errors.New("rom must be a 1-Wire id such as 28-0316a2799bff, as listed in /sys/bus/w1/devices or by edgepub sensors scan")
)

var (
	sensorNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	fieldRE      = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	romRE        = regexp.MustCompile(`^(?i)[0-9a-f]{2}-[0-9a-f]{12}$`)
)

// Validate checks ranges and relations, and normalises the broker URLs to
// scheme://host:port so that no other package parses them again. It returns
// the first problem as a *FieldError naming the key.
func (c *Config) Validate() error {
	if errs := c.problems(nil); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// problems returns every problem, each a *FieldError, in the order of the
// keys in the sample config; checkSensors adds the drivers' checks.
func (c *Config) problems(checkSensors func([]Sensor) error) []error {
	var f faults
	c.validateBroker(&f)
	c.validateCerts(&f)
	c.validateOutbox(&f)
	c.validateMisc(&f)
	c.validateSensors(&f)
	if checkSensors != nil {
		for _, err := range flatten(checkSensors(c.Sensors)) {
			var fe *FieldError
			if errors.As(err, &fe) && strings.HasSuffix(fe.Key, ".type") && c.sensorTypeMissing(fe.Key) {
				continue // reported as ErrSensorType already
			}
			f = append(f, err)
		}
	}
	return f
}

func (c *Config) sensorTypeMissing(key string) bool {
	for i, s := range c.Sensors {
		if key == fmt.Sprintf("sensors[%d].type", i) {
			return strings.TrimSpace(s.Type) == ""
		}
	}
	return false
}

// flatten lists the errors an errors.Join holds, or err alone.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// faults collects the problems of a config.
type faults []error

func (f *faults) bad(key string, err error) { *f = append(*f, bad(key, err)) }

func bad(key string, err error) error { return &FieldError{Key: key, Err: err} }

func (f *faults) check(ok bool, key string, err error) {
	if !ok {
		f.bad(key, err)
	}
}

func between(d Duration, lo, hi time.Duration) bool { return d.Std() >= lo && d.Std() <= hi }

func (c *Config) validateBroker(f *faults) {
	b := c.Broker
	f.check(len(b.URLs) > 0, "broker.urls", ErrNoBroker)
	for i, u := range b.URLs {
		norm, _, err := ParseBrokerURL(u)
		if err != nil {
			f.bad(fmt.Sprintf("broker.urls[%d]", i), err)
			continue
		}
		c.Broker.URLs[i] = norm
	}
	f.check(between(b.KeepAlive, 5*time.Second, 20*time.Minute), "broker.keepalive", ErrKeepAlive)
	f.check(between(b.ConnectTimeout, time.Second, 5*time.Minute), "broker.connect_timeout", ErrConnectTimeout)
	f.check(b.BackoffMin.Std() >= 100*time.Millisecond, "broker.backoff_min", ErrBackoff)
	f.check(b.BackoffMax >= b.BackoffMin, "broker.backoff_max", ErrBackoff)
	f.check(between(b.StartJitter, 0, 10*time.Minute), "broker.start_jitter", ErrStartJitter)
	f.check(b.InFlight >= 1 && b.InFlight <= 65535, "broker.in_flight", ErrInFlight)
	f.check(b.VerifyDelivery == "hold" || b.VerifyDelivery == "warn" || b.VerifyDelivery == "off", "broker.verify_delivery", ErrVerifyDelivery)
	f.check(between(b.VerifyInterval, 10*time.Second, 24*time.Hour), "broker.verify_interval", ErrVerifyInterval)
}

// ParseBrokerURL checks a broker URL and returns it normalised together with
// its host (for certificate verification).
func ParseBrokerURL(raw string) (normalised, host string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("%q: %w", raw, ErrBrokerURL)
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "tcps":
	default:
		return "", "", fmt.Errorf("%q: %w", raw, ErrBrokerURL)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Hostname(), "8883"
	}
	if host == "" || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("%q: %w", raw, ErrBrokerURL)
	}
	return u.Scheme + "://" + net.JoinHostPort(host, port), host, nil
}

func (c *Config) validateCerts(f *faults) {
	k := c.Certs
	f.check(strings.TrimSpace(k.Dir) != "", "certs.dir", ErrCertDir)
	f.check((k.Cert == "") == (k.Key == ""), "certs.cert", ErrCertPair)
	f.check(!strings.ContainsRune(k.Prefix, '/'), "certs.prefix", ErrCertPrefix)
	f.check(k.ErrorDays >= 0 && k.WarnDays >= k.ErrorDays, "certs.warn_days", ErrExpiryDays)
}

func (c *Config) validateOutbox(f *faults) {
	o := c.Outbox
	f.check(strings.TrimSpace(c.StateDir) != "", "state_dir", ErrStateDir)
	f.check(o.MaxBytes >= 64<<10, "outbox.max_bytes", ErrOutboxSize)
	f.check(o.MaxAge >= 0, "outbox.max_age", ErrNegative)
	f.check(between(o.SyncWindow, 10*time.Millisecond, time.Minute), "outbox.sync_window", ErrSyncWindow)
	f.check(o.MemoryLimit >= 1 && o.MemoryLimit <= 1_000_000, "outbox.memory_limit", ErrMemoryLimit)
	f.check(between(c.Clock.HoldUnsynced, 0, 24*time.Hour), "clock.hold_unsynced", ErrHoldUnsynced)
}

func (c *Config) validateMisc(f *faults) {
	if _, err := c.Log.SlogLevel(); err != nil {
		f.bad("log.level", err)
	}
	p := c.Presence
	f.check(p.HealthInterval == 0 || p.HealthInterval.Std() >= time.Second, "presence.health_interval", ErrHealthInterval)
	f.check(p.DiscoveryPrefix != "" && !strings.ContainsAny(p.DiscoveryPrefix, "/#+ "), "presence.discovery_prefix", ErrDiscoveryPrefix)
}

// SlogLevel returns the configured level.
func (l Log) SlogLevel() (slog.Level, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.Level)); err != nil {
		return 0, ErrLogLevel
	}
	return lvl, nil
}

func (c *Config) validateSensors(f *faults) {
	f.check(len(c.Sensors) > 0, "sensors", ErrNoSensors)
	seen := map[string]bool{}
	for i, s := range c.Sensors {
		key := fmt.Sprintf("sensors[%d]", i)
		s.validate(f, key)
		if s.Name != "" && seen[s.Name] {
			f.bad(key+".name", ErrDuplicateSensor)
		}
		seen[s.Name] = true
	}
}

func (s Sensor) validate(f *faults, key string) {
	f.check(sensorNameRE.MatchString(s.Name), key+".name", ErrSensorName)
	f.check(strings.TrimSpace(s.Type) != "", key+".type", ErrSensorType)
	if between(s.Interval, 10*time.Millisecond, 24*time.Hour) {
		// The default timeout follows the interval: only then is it judged.
		f.check(between(s.Timeout, 5*time.Millisecond, time.Minute) && s.Timeout < s.Interval, key+".timeout", ErrSensorTimeout)
	} else {
		f.bad(key+".interval", ErrSensorInterval)
	}
	f.check(s.Samples >= 1 && s.Samples <= 100, key+".samples", ErrSensorSamples)
	f.check(s.Heartbeat == 0 || (len(s.Deadband) > 0 && s.Heartbeat >= s.Interval), key+".heartbeat", ErrSensorHeartbeat)
	for _, field := range sortedFields(s.Calibrate) {
		f.check(fieldRE.MatchString(field), key+".calibrate."+field, ErrSensorField)
		if cal := s.Calibrate[field]; cal.Scale != nil && *cal.Scale == 0 {
			f.bad(key+".calibrate."+field+".scale", ErrCalibrationScale)
		}
	}
	for _, field := range sortedFields(s.Deadband) {
		f.check(fieldRE.MatchString(field), key+".deadband."+field, ErrSensorField)
		f.check(s.Deadband[field] >= 0, key+".deadband."+field, ErrNegative)
	}
	f.check(s.Bridge == "" || s.Bridge == "sysfs" || s.Bridge == "ds2482", key+".bridge", ErrBridge)
	f.check(s.ROM == "" || romRE.MatchString(s.ROM), key+".rom", ErrROM)
}

func sortedFields[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
