package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseEmptyGivesDefaults(t *testing.T) {
	cfg, err := Parse(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Broker.URLs; len(got) != 1 || got[0] != DefaultBroker {
		t.Errorf("broker urls = %v, want [%s]", got, DefaultBroker)
	}
	if cfg.Certs.Dir != DefaultCertDir || cfg.StateDir != DefaultStateDir {
		t.Errorf("cert dir %q state dir %q", cfg.Certs.Dir, cfg.StateDir)
	}
	if s := cfg.Sensors[0]; s.Interval.Std() != DefaultSensorInterval || s.Timeout.Std() != DefaultSensorTimeout || s.Samples != 1 {
		t.Errorf("sensor defaults not applied: %+v", s)
	}
}

func TestDefaultTimeoutFitsTheInterval(t *testing.T) {
	cfg, err := Parse(strings.NewReader("sensors:\n  - {name: air, type: sgp30, interval: 1s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sensors[0].Timeout.Std(); got != 500*time.Millisecond {
		t.Errorf("timeout = %v, want 500ms", got)
	}
}

func TestParseFullConfig(t *testing.T) {
	cfg, err := Parse(strings.NewReader(`
broker:
  urls: [ssl://127.0.0.1:8883, "mqtts://[::1]:8884"]
  keepalive: 15s
  in_flight: 8
certs:
  dir: /etc/edgepub/certs
  cert: pi-7.crt
  key: pi-7.key
outbox:
  max_bytes: 8MiB
  max_age: 24h
state_dir: /tmp/x
sensors:
  - name: room
    type: bme280
    bus: /dev/i2c-1
    address: 0x76
    interval: 30s
    calibrate:
      temperature_c: {offset: -0.4}
    deadband: {temperature_c: 0.1}
    heartbeat: 10m
  - name: adc
    type: ads1115
    bus: "1"
    address: 0x48
    driver:
      channels:
        - {input: 0, field: moisture_pct, scale: 30, offset: -10}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Broker.URLs) != 2 || cfg.Broker.KeepAlive.Std() != 15*time.Second || cfg.Broker.InFlight != 8 {
		t.Errorf("broker = %+v", cfg.Broker)
	}
	if cfg.Outbox.MaxBytes != 8<<20 || cfg.Outbox.MaxAge.Std() != 24*time.Hour {
		t.Errorf("outbox = %+v", cfg.Outbox)
	}
	if len(cfg.Sensors) != 2 {
		t.Fatalf("sensors replaced the defaults? got %d", len(cfg.Sensors))
	}
	room := cfg.Sensors[0]
	if room.Address != 0x76 || room.Interval.Std() != 30*time.Second || room.Calibrate["temperature_c"].Offset != -0.4 || room.Calibrate["temperature_c"].Scale != nil {
		t.Errorf("room = %+v", room)
	}
	if ch := cfg.Sensors[1].Driver.Channels; len(ch) != 1 || ch[0].Field != "moisture_pct" || ch[0].Scale != 30 {
		t.Errorf("channels = %+v", ch)
	}
}

// Every error must name the key and the line, so a person can go straight to it.
func TestParseErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
		sentinel   error
	}{
		{"unknown top key", "brokers:\n  urls: []\n", []string{"line 1", `"brokers"`, "valid keys"}, nil},
		{"unknown nested key", "broker:\n  keepalive: 10s\n  keepalivee: 10s\n", []string{"line 3", `"broker.keepalivee"`}, nil},
		{"unknown sensor key", "sensors:\n  - name: a\n    type: sim-soc\n    adress: 0x76\n", []string{"line 4", "sensors[0].adress"}, nil},
		{"wrong type int", "broker:\n  in_flight: many\n", []string{"line 2", "broker.in_flight"}, nil},
		{"wrong type list", "broker:\n  urls: ssl://x:1\n", []string{"line 2", "broker.urls"}, nil},
		{"bad duration", "broker:\n  keepalive: 30\n", []string{"line 2", "not a duration"}, nil},
		{"bad size", "outbox:\n  max_bytes: lots\n", []string{"line 2", "not a size"}, nil},
		{"not a mapping", "- a\n- b\n", []string{"line 1", "mapping"}, nil},
		{"broken yaml", "broker: [\n", []string{"line"}, nil},
		{"no broker", "broker:\n  urls: []\n", []string{"line 2", "broker.urls"}, ErrNoBroker},
		{"plain tcp broker", "broker:\n  urls: [tcp://127.0.0.1:1883]\n", []string{"line 2", "broker.urls[0]", "mutual TLS"}, ErrBrokerURL},
		{"keepalive range", "broker:\n  keepalive: 1s\n", []string{"line 2", "broker.keepalive"}, ErrKeepAlive},
		{"connect timeout", "broker:\n  connect_timeout: 0s\n", []string{"broker.connect_timeout"}, ErrConnectTimeout},
		{"backoff min", "broker:\n  backoff_min: 1ms\n", []string{"broker.backoff_min"}, ErrBackoff},
		{"backoff order", "broker:\n  backoff_min: 10s\n  backoff_max: 1s\n", []string{"line 3", "broker.backoff_max"}, ErrBackoff},
		{"start jitter", "broker:\n  start_jitter: 1h\n", []string{"broker.start_jitter"}, ErrStartJitter},
		{"in flight", "broker:\n  in_flight: 70000\n", []string{"line 2", "broker.in_flight"}, ErrInFlight},
		{"cert dir", "certs:\n  dir: ''\n", []string{"certs.dir"}, ErrCertDir},
		{"cert without key", "certs:\n  cert: a.crt\n", []string{"line 2", "certs.cert"}, ErrCertPair},
		{"cert prefix", "certs:\n  prefix: a/b\n", []string{"line 2", "certs.prefix"}, ErrCertPrefix},
		{"expiry days", "certs:\n  warn_days: 3\n  error_days: 7\n", []string{"certs.warn_days"}, ErrExpiryDays},
		{"renew", "certs:\n  renew: sometimes\n", []string{"certs.renew"}, ErrRenew},
		{"renew key type", "certs:\n  renew_key_type: dsa\n", []string{"certs.renew_key_type"}, ErrRenewKeyType},
		{"state dir", "state_dir: ''\n", []string{"line 1", "state_dir"}, ErrStateDir},
		{"outbox size", "outbox:\n  max_bytes: 1KiB\n", []string{"outbox.max_bytes"}, ErrOutboxSize},
		{"outbox age", "outbox:\n  max_age: -1s\n", []string{"outbox.max_age"}, ErrNegative},
		{"sync window", "outbox:\n  sync_window: 5m\n", []string{"outbox.sync_window"}, ErrSyncWindow},
		{"memory limit", "outbox:\n  memory_limit: 0\n", []string{"outbox.memory_limit"}, ErrMemoryLimit},
		{"log level", "log:\n  level: loud\n", []string{"line 2", "log.level"}, ErrLogLevel},
		{"health interval", "presence:\n  health_interval: 1ms\n", []string{"presence.health_interval"}, ErrHealthInterval},
		{"discovery prefix", "presence:\n  discovery_prefix: a/b\n", []string{"presence.discovery_prefix"}, ErrDiscoveryPrefix},
		{"no sensors", "sensors: []\n", []string{"line 1", "sensors"}, ErrNoSensors},
		{"sensor name", "sensors:\n  - name: a/b\n    type: soc\n", []string{"line 2", "sensors[0].name"}, ErrSensorName},
		{"duplicate sensor", "sensors:\n  - {name: a, type: soc}\n  - {name: a, type: soc}\n", []string{"line 3", "sensors[1].name"}, ErrDuplicateSensor},
		{"sensor type", "sensors:\n  - name: a\n", []string{"sensors[0].type"}, ErrSensorType},
		{"sensor interval", "sensors:\n  - {name: a, type: soc, interval: 1ms}\n", []string{"sensors[0].interval"}, ErrSensorInterval},
		{"sensor timeout", "sensors:\n  - {name: a, type: soc, interval: 1s, timeout: 2s}\n", []string{"sensors[0].timeout"}, ErrSensorTimeout},
		{"sensor samples", "sensors:\n  - {name: a, type: soc, samples: 1000}\n", []string{"sensors[0].samples"}, ErrSensorSamples},
		{"heartbeat without deadband", "sensors:\n  - {name: a, type: soc, heartbeat: 1h}\n", []string{"sensors[0].heartbeat"}, ErrSensorHeartbeat},
		{"calibrate field", "sensors:\n  - name: a\n    type: soc\n    calibrate:\n      Temp: {offset: 1}\n", []string{"line 5", "sensors[0].calibrate.Temp"}, ErrSensorField},
		{"calibrate scale", "sensors:\n  - name: a\n    type: soc\n    calibrate:\n      temperature_c: {scale: 0}\n", []string{"sensors[0].calibrate.temperature_c.scale"}, ErrCalibrationScale},
		{"negative deadband", "sensors:\n  - name: a\n    type: soc\n    deadband: {temperature_c: -1}\n", []string{"line 4", "sensors[0].deadband.temperature_c"}, ErrNegative},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %q does not wrap %v", err, tc.sentinel)
			}
		})
	}
}

func TestLoadMissingFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.yaml")
	if _, err := Load(missing, true); err != nil {
		t.Errorf("missing default config must give defaults, got %v", err)
	}
	_, err := Load(missing, false)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing named config: got %v, want an error naming the file", err)
	}
}

func TestLoadNamesFileInErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("broker:\n  keepalive: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, false)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("got %v", err)
	}
}

func TestParseBrokerURL(t *testing.T) {
	cases := map[string]struct{ norm, host string }{
		"ssl://192.168.137.150:8883": {"ssl://192.168.137.150:8883", "192.168.137.150"},
		"mqtts://broker.lan":         {"mqtts://broker.lan:8883", "broker.lan"},
		"tls://[::1]:9000":           {"tls://[::1]:9000", "::1"},
	}
	for in, want := range cases {
		norm, host, err := ParseBrokerURL(in)
		if err != nil || norm != want.norm || host != want.host {
			t.Errorf("ParseBrokerURL(%q) = %q, %q, %v; want %q, %q", in, norm, host, err, want.norm, want.host)
		}
	}
	for _, in := range []string{"tcp://x:1883", "ssl://", "broker:8883", "ssl://x:8883/path"} {
		if _, _, err := ParseBrokerURL(in); !errors.Is(err, ErrBrokerURL) {
			t.Errorf("ParseBrokerURL(%q) err = %v", in, err)
		}
	}
}

// Validate leaves the broker URLs normalised, so that the daemon and the
// doctor use them as they are.
func TestValidateNormalisesBrokerURLs(t *testing.T) {
	cfg := Default()
	cfg.Broker.URLs = []string{" mqtts://broker.lan ", "ssl://192.168.137.150:8883"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"mqtts://broker.lan:8883", "ssl://192.168.137.150:8883"}; !slices.Equal(cfg.Broker.URLs, want) {
		t.Errorf("URLs = %q, want %q", cfg.Broker.URLs, want)
	}
}

func TestByteSizeRoundTrip(t *testing.T) {
	for _, v := range []ByteSize{0, 1000, 64 << 10, 64 << 20, 2 << 30} {
		out, _ := v.MarshalYAML()
		cfg, err := Parse(strings.NewReader("outbox:\n  max_bytes: \"" + out.(string) + "\"\n"))
		if v < 64<<10 {
			continue
		}
		if err != nil || cfg.Outbox.MaxBytes != v {
			t.Errorf("%d -> %v -> %d, %v", v, out, cfg.Outbox.MaxBytes, err)
		}
	}
}

// A small config whose aliases expand to millions of keys is refused before
// the strict key check walks and records every one of them.
func TestParseBoundsAliasExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString("sensors:\n  - &s\n    name: a\n    type: soc\n    calibrate:\n      k: &c {scale: 1, offset: 0}\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "      k%d: *c\n", i)
	}
	for range 2000 {
		b.WriteString("  - *s\n")
	}
	if b.Len() > 64<<10 {
		t.Fatalf("the bomb is %d bytes, want it small", b.Len())
	}
	_, err := Parse(strings.NewReader(b.String()))
	if err == nil || !strings.Contains(err.Error(), "through YAML aliases") || !strings.Contains(err.Error(), "line ") {
		t.Fatalf("err = %v, want the alias expansion refused with its line", err)
	}
	// Aliases in ordinary measure still work.
	ok := "sensors:\n  - name: a\n    type: sim-bme280\n    calibrate: &c {temperature_c: {offset: -0.5}}\n  - name: b\n    type: sim-bme280\n    calibrate: *c\n"
	if _, err := Parse(strings.NewReader(ok)); err != nil {
		t.Errorf("config with a few aliases: %v", err)
	}
}

// A file written from scratch has several mistakes: all are reported, in
// the order of the file, each with its line.
func TestParseReportsEveryProblemInFileOrder(t *testing.T) {
	_, err := Parse(strings.NewReader(`broker:
  keepalive: 1s
  in_flight: "64"
  keepalivee: 30s
outbox:
  max_bytes: lots
presence:
  home_assistant: "true"
sensors:
  - name: a/b
    type: soc
    bridge: usb
    rom: 28-xyz
`))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"line 2: broker.keepalive",
		`line 3: broker.in_flight: "64" is quoted, so it is text: remove the quotes (want a whole number)`,
		`line 4: unknown key "broker.keepalivee" in broker; did you mean keepalive?`,
		`line 6: outbox.max_bytes: "lots" is not a size`,
		`line 8: presence.home_assistant: "true" is quoted, so it is text: remove the quotes (want true or false)`,
		"line 10: sensors[0].name",
		"line 12: sensors[0].bridge",
		"line 13: sensors[0].rom",
	}
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != fmt.Sprintf("%d problems:", len(want)) {
		t.Errorf("first line %q, want %d problems:\n%v", lines[0], len(want), err)
	}
	for i, w := range want {
		if i+1 >= len(lines) || !strings.Contains(lines[i+1], w) {
			t.Errorf("problem %d does not contain %q:\n%v", i+1, w, err)
		}
	}
	if !errors.Is(err, ErrKeepAlive) || !errors.Is(err, ErrROM) {
		t.Errorf("errors.Is does not see every problem: %v", err)
	}
}

func TestParseLimitsTheProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("sensors:\n")
	for i := range 15 {
		fmt.Fprintf(&b, "  - {name: s%d, type: soc, samples: 1000}\n", i)
	}
	_, err := Parse(strings.NewReader(b.String()))
	if err == nil || !strings.HasSuffix(err.Error(), "… and 5 more problems") || strings.Count(err.Error(), "\n") != maxProblems+1 {
		t.Errorf("got %v", err)
	}
}

// CheckSensor adds the drivers' knowledge; its keys are relative to the
// sensor and reported at their line.
func TestParserCheckSensor(t *testing.T) {
	p := Parser{CheckSensors: func(specs []Sensor) error {
		var errs []error
		for i, s := range specs {
			switch s.Type {
			case "bme290":
				errs = append(errs, &FieldError{Key: fmt.Sprintf("sensors[%d].type", i), Err: errors.New(`unknown sensor type "bme290"; did you mean bme280?`)})
			case "ds18b20":
				errs = append(errs, &FieldError{Key: fmt.Sprintf("sensors[%d].rom", i), Err: errors.New("rom is missing")})
			}
		}
		return errors.Join(errs...)
	}}
	_, err := p.Parse(strings.NewReader("sensors:\n  - name: a\n    type: bme290\n  - name: b\n    type: ds18b20\n"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`line 3: sensors[0].type: unknown sensor type "bme290"; did you mean bme280?`, "line 4: sensors[1].rom: rom is missing"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q not in:\n%v", w, err)
		}
	}
}

func TestLoadResolvesPaths(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("certs:\n  dir: ~/mqtt-certs\n  cert: Kai.crt\n  key: ~/k/Kai.key\nstate_dir: state\nsensors:\n  - {name: soc, type: soc, path: /sys/x}\n"), 0o600)
	cfg, err := Load(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, "mqtt-certs"); cfg.Certs.Dir != want {
		t.Errorf("certs.dir %q, want %q", cfg.Certs.Dir, want)
	}
	if cfg.Certs.Cert != "Kai.crt" || cfg.Certs.Key != filepath.Join(home, "k/Kai.key") {
		t.Errorf("cert %q key %q: names in certs.dir stay relative to it, ~ is expanded", cfg.Certs.Cert, cfg.Certs.Key)
	}
	if want := filepath.Join(dir, "state"); cfg.StateDir != want {
		t.Errorf("state_dir %q, want %q (relative to the config's folder)", cfg.StateDir, want)
	}
	if cfg.Sensors[0].Path != "/sys/x" {
		t.Errorf("absolute path changed: %q", cfg.Sensors[0].Path)
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := Parse(strings.NewReader("broker:\n  urls: [ssl://x\n"))
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "line") {
		t.Errorf("got %v", err)
	}
}

func TestClosest(t *testing.T) {
	known := []string{"bme280", "bmp280", "sht4x", "ds18b20"}
	for word, want := range map[string]string{"bme290": "bme280", "BME280": "bme280", "sht41": "sht4x", "ds18b2": "ds18b20", "dht22": "", "x": ""} {
		if got := closest(word, known); got != want {
			t.Errorf("closest(%q) = %q, want %q", word, got, want)
		}
	}
}

// The default timeout gives a type's longest read (here an HDC302x's
// 1.01 s: one 1 s sample period at its first read) a margin, fits the
// interval, and stays the old min(2 s, interval/2) for types read fast.
func TestDefaultTimeoutFitsTheReadTime(t *testing.T) {
	const hdc = 1010 * time.Millisecond
	for _, tc := range []struct {
		interval, readTime, want time.Duration
	}{
		{10 * time.Second, 0, DefaultSensorTimeout},
		{time.Second, 0, 500 * time.Millisecond},
		{10 * time.Second, hdc, DefaultSensorTimeout},
		{2 * time.Second, hdc, 1505 * time.Millisecond}, // the middle of 1.01 s and 2 s
		{3 * time.Second, hdc, 1500 * time.Millisecond}, // half the interval fits
		{1500 * time.Millisecond, hdc, 1255 * time.Millisecond},
		{time.Minute, 2 * time.Second, 3 * time.Second}, // 1.5 × the read
		{time.Second, hdc, 500 * time.Millisecond},      // none fits: CheckTimeout says so
	} {
		if got := DefaultTimeout(tc.interval, tc.readTime); got != tc.want {
			t.Errorf("DefaultTimeout(%v, %v) = %v, want %v", tc.interval, tc.readTime, got, tc.want)
		}
	}
	p := Parser{ReadTime: func(typ string) time.Duration {
		if typ == "hdc302x" {
			return hdc
		}
		return 0
	}}
	cfg, err := p.Parse(strings.NewReader("sensors:\n  - {name: hall, type: hdc302x, interval: 2s}\n  - {name: soc, type: soc, interval: 2s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sensors[0].Timeout.Std(); got < hdc || got >= 2*time.Second {
		t.Errorf("hdc302x at 2s: timeout %v, want at least %v and less than the interval", got, hdc)
	}
	if got := cfg.Sensors[1].Timeout.Std(); got != time.Second {
		t.Errorf("soc at 2s: timeout %v, want 1s", got)
	}
}

// CheckTimeout gives the numbers and the fix: an interval too short for
// any timeout, or a timeout too short for the read.
func TestCheckTimeoutGivesTheNumbers(t *testing.T) {
	const hdc = 1010 * time.Millisecond
	for _, tc := range []struct {
		spec     Sensor
		sentinel error
		want     string
	}{
		{Sensor{Name: "hall", Interval: Duration(time.Second), Timeout: Duration(500 * time.Millisecond)}, ErrIntervalShort,
			`interval: interval not longer than a read of this type takes: sensor "hall": a read of type hdc302x takes up to 1.01s (opening the chip included), so an interval of 1s leaves no room for its timeout: make the interval at least 2s`},
		{Sensor{Name: "hall", Interval: Duration(10 * time.Second), Timeout: Duration(time.Second)}, ErrTimeoutShort,
			"timeout: timeout shorter than a read of this type takes: a read of type hdc302x takes up to 1.01s, longer than the timeout 1s: make the timeout at least 1.01s (and the interval longer than that)"},
	} {
		err := tc.spec.CheckTimeout("hdc302x", hdc)
		if !errors.Is(err, tc.sentinel) || err.Error() != tc.want {
			t.Errorf("got  %v\nwant %s", err, tc.want)
		}
	}
	if err := (Sensor{Interval: Duration(2 * time.Second), Timeout: Duration(DefaultTimeout(2*time.Second, hdc))}).CheckTimeout("hdc302x", hdc); err != nil {
		t.Errorf("the default timeout at 2s is refused: %v", err)
	}
}
