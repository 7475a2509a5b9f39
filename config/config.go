// Package config reads edgepub's YAML configuration in three steps:
// Default, Parse (strict: unknown keys and wrong types are errors naming the
// key and its line) and Validate (ranges and relations, and broker URLs
// normalised). cmd/edgepub and internal/daemon turn it into each package's
// Opts; certs.ConfigNames reads the certs section.
package config

import "time"

// Defaults that a deployment on a Pi made as in the tutorial needs no
// config file for.
const (
	DefaultPath     = "/etc/edgepub/config.yaml"
	DefaultBroker   = "ssl://192.168.137.150:8883"
	DefaultCertDir  = "/home/kai/mqtt-certs"
	DefaultStateDir = "/var/lib/edgepub"
)

// Config is the whole configuration.
type Config struct {
	Broker   Broker   `yaml:"broker"`
	Certs    Certs    `yaml:"certs"`
	StateDir string   `yaml:"state_dir"`
	Outbox   Outbox   `yaml:"outbox"`
	Clock    Clock    `yaml:"clock"`
	Log      Log      `yaml:"log"`
	Presence Presence `yaml:"presence"`
	Sensors  []Sensor `yaml:"sensors"`
}

// Broker says where and how to connect.
type Broker struct {
	// URLs are tried in turn; several name the members of a clustered broker.
	URLs []string `yaml:"urls"`
	// KeepAlive is the MQTT keepalive; a dead half-open connection is
	// noticed within about 1.5 times it.
	KeepAlive Duration `yaml:"keepalive"`
	// ConnectTimeout bounds one TCP+TLS+MQTT connect attempt.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// BackoffMin and BackoffMax bound the jittered exponential reconnect delay.
	BackoffMin Duration `yaml:"backoff_min"`
	BackoffMax Duration `yaml:"backoff_max"`
	// StartJitter delays the very first connect by a random time up to it,
	// so a fleet powered on together does not connect all at once.
	StartJitter Duration `yaml:"start_jitter"`
	// InFlight is how many QoS 1 publishes may await their PUBACK at once.
	InFlight int `yaml:"in_flight"`
	// VerifyDelivery is what happens while the broker does not route the
	// device's publishes back to it (an ACL that drops them): "hold" keeps
	// readings queued until it does, "warn" sends and counts them, "off"
	// does not check.
	VerifyDelivery string `yaml:"verify_delivery"`
	// VerifyInterval is how often the routing is checked again after the
	// check on every connect.
	VerifyInterval Duration `yaml:"verify_interval"`
}

// Certs locates the client's certificate bundle.
type Certs struct {
	Dir string `yaml:"dir"`
	// CA, Cert and Key are file names in Dir (or absolute paths); empty Cert
	// and Key mean "the one <name>.crt/<name>.key pair in Dir".
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// Prefix is put before every file name looked up in Dir: systemd's
	// LoadCredential=certs:DIR names the copies certs_ca.crt, certs_<name>.crt….
	Prefix string `yaml:"prefix"`
	// WarnDays and ErrorDays set when an approaching expiry is logged as a
	// warning and as an error.
	WarnDays  int `yaml:"warn_days"`
	ErrorDays int `yaml:"error_days"`
	// Renew is "auto" to renew the client certificate through the signer
	// (edgepub ca serve) before it expires, or "off".
	Renew string `yaml:"renew"`
	// RenewBefore is how long before expiry renewal starts; 0 means a
	// third of the certificate's lifetime.
	RenewBefore Duration `yaml:"renew_before"`
	// RenewKeyType is the kind of the new key; empty means the same kind
	// as the current one.
	RenewKeyType string `yaml:"renew_key_type"`
}

// Outbox bounds the on-disk queue of readings not yet acknowledged.
type Outbox struct {
	MaxBytes   ByteSize `yaml:"max_bytes"`
	MaxAge     Duration `yaml:"max_age"`
	SyncWindow Duration `yaml:"sync_window"`
	// MemoryLimit is how many readings are held in memory while the disk
	// fails.
	MemoryLimit int `yaml:"memory_limit"`
}

// Clock says how long publishing waits for the clock after boot.
type Clock struct {
	// HoldUnsynced holds publishing (not reading) while the clock is not
	// synced and less than this has passed since boot, so that readings
	// go out with repaired times; 0 does not hold.
	HoldUnsynced Duration `yaml:"hold_unsynced"`
}

// Log selects the log level.
type Log struct {
	Level string `yaml:"level"`
}

// Presence configures the retained status and health messages and Home
// Assistant discovery.
type Presence struct {
	HealthInterval  Duration `yaml:"health_interval"`
	HomeAssistant   bool     `yaml:"home_assistant"`
	DiscoveryPrefix string   `yaml:"discovery_prefix"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	cfg := Config{
		Broker: Broker{
			URLs:           []string{DefaultBroker},
			KeepAlive:      Duration(30 * time.Second),
			VerifyDelivery: "hold",
			VerifyInterval: Duration(10 * time.Minute),
			ConnectTimeout: Duration(10 * time.Second),
			BackoffMin:     Duration(time.Second),
			BackoffMax:     Duration(2 * time.Minute),
			StartJitter:    Duration(5 * time.Second),
			InFlight:       64,
		},
		Certs: Certs{
			Dir:       DefaultCertDir,
			CA:        "ca.crt",
			WarnDays:  30,
			ErrorDays: 7,
			Renew:     "off",
		},
		StateDir: DefaultStateDir,
		Outbox: Outbox{
			MaxBytes:    64 << 20,
			SyncWindow:  Duration(time.Second),
			MemoryLimit: 10000,
		},
		Clock: Clock{HoldUnsynced: Duration(2 * time.Minute)},
		Log:   Log{Level: "info"},
		Presence: Presence{
			HealthInterval:  Duration(60 * time.Second),
			DiscoveryPrefix: "homeassistant",
		},
		// Every Pi has an SoC thermometer, so a device with no sensors
		// configured still says something useful.
		Sensors: []Sensor{{Name: "soc", Type: "soc"}},
	}
	cfg.applySensorDefaults(nil)
	return cfg
}
