package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
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
)

var (
	sensorNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	fieldRE      = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// Validate checks ranges and relations, and normalises the broker URLs to
// scheme://host:port so that no other package parses them again. It returns
// the first problem as a *FieldError naming the key.
func (c *Config) Validate() error {
	checks := []func() error{c.validateBroker, c.validateCerts, c.validateOutbox, c.validateMisc, c.validateSensors}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func bad(key string, err error) error { return &FieldError{Key: key, Err: err} }

func between(d Duration, lo, hi time.Duration) bool { return d.Std() >= lo && d.Std() <= hi }

func (c *Config) validateBroker() error {
	b := c.Broker
	if len(b.URLs) == 0 {
		return bad("broker.urls", ErrNoBroker)
	}
	for i, u := range b.URLs {
		norm, _, err := ParseBrokerURL(u)
		if err != nil {
			return bad(fmt.Sprintf("broker.urls[%d]", i), err)
		}
		c.Broker.URLs[i] = norm
	}
	switch {
	case !between(b.KeepAlive, 5*time.Second, 20*time.Minute):
		return bad("broker.keepalive", ErrKeepAlive)
	case !between(b.ConnectTimeout, time.Second, 5*time.Minute):
		return bad("broker.connect_timeout", ErrConnectTimeout)
	case b.BackoffMin.Std() < 100*time.Millisecond:
		return bad("broker.backoff_min", ErrBackoff)
	case b.BackoffMax < b.BackoffMin:
		return bad("broker.backoff_max", ErrBackoff)
	case !between(b.StartJitter, 0, 10*time.Minute):
		return bad("broker.start_jitter", ErrStartJitter)
	case b.InFlight < 1 || b.InFlight > 65535:
		return bad("broker.in_flight", ErrInFlight)
	}
	return nil
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

func (c *Config) validateCerts() error {
	k := c.Certs
	switch {
	case strings.TrimSpace(k.Dir) == "":
		return bad("certs.dir", ErrCertDir)
	case (k.Cert == "") != (k.Key == ""):
		return bad("certs.cert", ErrCertPair)
	case strings.ContainsRune(k.Prefix, '/'):
		return bad("certs.prefix", ErrCertPrefix)
	case k.ErrorDays < 0 || k.WarnDays < k.ErrorDays:
		return bad("certs.warn_days", ErrExpiryDays)
	}
	return nil
}

func (c *Config) validateOutbox() error {
	o := c.Outbox
	switch {
	case strings.TrimSpace(c.StateDir) == "":
		return bad("state_dir", ErrStateDir)
	case o.MaxBytes < 64<<10:
		return bad("outbox.max_bytes", ErrOutboxSize)
	case o.MaxAge < 0:
		return bad("outbox.max_age", ErrNegative)
	case !between(o.SyncWindow, 10*time.Millisecond, time.Minute):
		return bad("outbox.sync_window", ErrSyncWindow)
	case o.MemoryLimit < 1 || o.MemoryLimit > 1_000_000:
		return bad("outbox.memory_limit", ErrMemoryLimit)
	case !between(c.Clock.HoldUnsynced, 0, 24*time.Hour):
		return bad("clock.hold_unsynced", ErrHoldUnsynced)
	}
	return nil
}

func (c *Config) validateMisc() error {
	if _, err := c.Log.SlogLevel(); err != nil {
		return bad("log.level", err)
	}
	p := c.Presence
	if p.HealthInterval != 0 && p.HealthInterval.Std() < time.Second {
		return bad("presence.health_interval", ErrHealthInterval)
	}
	if p.DiscoveryPrefix == "" || strings.ContainsAny(p.DiscoveryPrefix, "/#+ ") {
		return bad("presence.discovery_prefix", ErrDiscoveryPrefix)
	}
	return nil
}

// SlogLevel returns the configured level.
func (l Log) SlogLevel() (slog.Level, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.Level)); err != nil {
		return 0, ErrLogLevel
	}
	return lvl, nil
}

func (c *Config) validateSensors() error {
	if len(c.Sensors) == 0 {
		return bad("sensors", ErrNoSensors)
	}
	seen := map[string]bool{}
	for i, s := range c.Sensors {
		key := fmt.Sprintf("sensors[%d]", i)
		if err := s.validate(key); err != nil {
			return err
		}
		if seen[s.Name] {
			return bad(key+".name", ErrDuplicateSensor)
		}
		seen[s.Name] = true
	}
	return nil
}

func (s Sensor) validate(key string) error {
	switch {
	case !sensorNameRE.MatchString(s.Name):
		return bad(key+".name", ErrSensorName)
	case strings.TrimSpace(s.Type) == "":
		return bad(key+".type", ErrSensorType)
	case !between(s.Interval, 10*time.Millisecond, 24*time.Hour):
		return bad(key+".interval", ErrSensorInterval)
	case !between(s.Timeout, 5*time.Millisecond, time.Minute) || s.Timeout >= s.Interval:
		return bad(key+".timeout", ErrSensorTimeout)
	case s.Samples < 1 || s.Samples > 100:
		return bad(key+".samples", ErrSensorSamples)
	case s.Heartbeat != 0 && (len(s.Deadband) == 0 || s.Heartbeat < s.Interval):
		return bad(key+".heartbeat", ErrSensorHeartbeat)
	}
	for field, cal := range s.Calibrate {
		if !fieldRE.MatchString(field) {
			return bad(key+".calibrate."+field, ErrSensorField)
		}
		if cal.Scale != nil && *cal.Scale == 0 {
			return bad(key+".calibrate."+field+".scale", ErrCalibrationScale)
		}
	}
	for field, band := range s.Deadband {
		if !fieldRE.MatchString(field) {
			return bad(key+".deadband."+field, ErrSensorField)
		}
		if band < 0 {
			return bad(key+".deadband."+field, ErrNegative)
		}
	}
	return nil
}
