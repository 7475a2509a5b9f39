package fleet

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newModel(t *testing.T) (*Model, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	return New(Opts{Now: c.Now, Settle: 30 * time.Second}), c
}

func reading(m *Model, dev string, seq uint64) {
	m.Handle(dev+"/sensors/sim", fmt.Appendf(nil, `{"device":%q,"sensor":"sim","seq":%d,"time":"2026-12-02T12:00:00.000Z","x":1}`, dev, seq), false)
}

func find(t *testing.T, m *Model, dev string) Device {
	t.Helper()
	for _, d := range m.Snapshot() {
		if d.Device == dev {
			return d
		}
	}
	t.Fatalf("device %s not in the snapshot", dev)
	return Device{}
}

func TestSeqCounting(t *testing.T) {
	for _, tc := range []struct {
		name          string
		seqs          []uint64
		declared      []span
		declaredAfter bool // the health message comes after the readings
		missing       uint64
		skipped       uint64
		duplicates    uint64
	}{
		{name: "in order", seqs: []uint64{5, 6, 7, 8}},
		{name: "gap", seqs: []uint64{1, 2, 5, 6}, missing: 2},
		{name: "resent after a reconnect", seqs: []uint64{1, 2, 3, 2, 3, 4}, duplicates: 2},
		{name: "late reading fills the gap", seqs: []uint64{1, 3, 2, 4}},
		{name: "declared jump", seqs: []uint64{1, 2, 3, 1001}, declared: []span{{3, 1000}}, skipped: 997},
		{name: "declared after the readings", seqs: []uint64{1, 2, 3, 1001}, declared: []span{{3, 1000}}, declaredAfter: true, skipped: 997},
		{name: "gap beside a declared jump", seqs: []uint64{1, 2, 1001}, declared: []span{{10, 1000}}, skipped: 991, missing: 7},
		{name: "state dir wiped", seqs: []uint64{40, 41, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, c := newModel(t)
			declare := func() {
				var parts []string
				for _, s := range tc.declared {
					parts = append(parts, fmt.Sprintf(`{"first":%d,"last":%d,"reason":"test"}`, s.first, s.last))
				}
				m.Handle("Kai/health", []byte(`{"device":"Kai","time":"2026-12-02T12:00:00.000Z","seq_skipped":[`+strings.Join(parts, ",")+`]}`), true)
			}
			if !tc.declaredAfter {
				declare()
			}
			for _, s := range tc.seqs {
				reading(m, "Kai", s)
				c.Advance(time.Second)
			}
			if tc.declaredAfter {
				declare()
			}
			c.Advance(31 * time.Second)
			d := find(t, m, "Kai")
			if d.Missing != tc.missing || d.Skipped != tc.skipped || d.Duplicates != tc.duplicates {
				t.Fatalf("missing %d skipped %d duplicates %d, want %d %d %d", d.Missing, d.Skipped, d.Duplicates, tc.missing, tc.skipped, tc.duplicates)
			}
			if d.Readings != uint64(len(tc.seqs)) {
				t.Fatalf("readings %d, want %d", d.Readings, len(tc.seqs))
			}
		})
	}
}

func TestGapWaitsForItsDeclaration(t *testing.T) {
	m, c := newModel(t)
	reading(m, "Kai", 1)
	reading(m, "Kai", 10)
	if d := find(t, m, "Kai"); d.Missing != 0 {
		t.Fatalf("a fresh gap counted as missing (%d) before a declaration could arrive", d.Missing)
	}
	c.Advance(31 * time.Second)
	if d := find(t, m, "Kai"); d.Missing != 8 {
		t.Fatalf("missing %d after the settle time, want 8", d.Missing)
	}
	m.SettleAll()
	reading(m, "Kai", 12)
	m.SettleAll()
	if d := find(t, m, "Kai"); d.Missing != 9 || !d.Alarming() {
		t.Fatalf("missing %d after SettleAll, want 9, and the device alarming", d.Missing)
	}
}

func TestConsoleReconnectCountsNoGap(t *testing.T) {
	m, c := newModel(t)
	reading(m, "Kai", 1)
	m.Resync()
	reading(m, "Kai", 50)
	reading(m, "Kai", 51)
	c.Advance(time.Minute)
	if d := find(t, m, "Kai"); d.Missing != 0 {
		t.Fatalf("missing %d: readings published while the console was away counted against the device", d.Missing)
	}
}

func TestStatusHealthAndOrder(t *testing.T) {
	m, c := newModel(t)
	notAfter := c.t.Add(5*24*time.Hour + time.Hour).Format(time.RFC3339)
	caAfter := c.t.Add(400 * 24 * time.Hour).Format(time.RFC3339)
	m.Handle("Kai/status", []byte("online"), true)
	m.Handle("Kai/health", []byte(`{"device":"Kai","version":"1.2.3","time":"2026-12-02T11:59:00.000Z","backlog":7,"oldest_age_s":3.5,"reconnects":2,
		"certs":[{"cert":"client","not_after":"`+notAfter+`","days_left":5},{"cert":"ca","not_after":"`+caAfter+`","days_left":400}],
		"sensors":[{"name":"bme280","failing":false},{"name":"sht4x","failing":true}],"delivery":"confirmed"}`), true)
	m.Handle("Ann/status", []byte("online"), true)
	m.Handle("Ann/health", []byte(`{"device":"Ann","version":"1.2.3","time":"2026-12-02T11:59:30.000Z","sensors":[{"name":"sim","failing":true}]}`), true)
	m.Handle("Bob/health", []byte(`{"device":"Bob","version":"1.2.2","time":"2026-12-02T11:00:00.000Z"}`), true)
	m.Handle("Bob/status", []byte("offline"), true)
	m.Handle("Cid/status", []byte("online"), true)
	m.Handle("Cid/health", []byte(`{"device":"Cid","version":"1.2.3","time":"2026-12-02T11:59:30.000Z"}`), true)

	snap := m.Snapshot()
	var order []string
	for _, d := range snap {
		order = append(order, d.Device)
	}
	if got := strings.Join(order, " "); got != "Bob Kai Ann Cid" {
		t.Fatalf("order %q, want offline Bob, then Kai (certificate within 7 days), Ann (failing sensor), Cid", got)
	}
	bob, kai := snap[0], snap[1]
	if bob.Online || !bob.Since.Equal(time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC)) || !bob.Alarming() {
		t.Fatalf("Bob: %+v, want offline since its last health message, alarming", bob)
	}
	if kai.Backlog != 7 || kai.OldestAgeS != 3.5 || kai.Reconnects != 2 || kai.Version != "1.2.3" || kai.Delivery != "confirmed" {
		t.Fatalf("Kai: %+v", kai)
	}
	if *kai.CertDaysLeft != 5 || kai.CertsDaysLeft["ca"] != 400 || !kai.CertExpiring || !kai.Alarming() {
		t.Fatalf("Kai certificates: %d %v expiring=%v", *kai.CertDaysLeft, kai.CertsDaysLeft, kai.CertExpiring)
	}
	if strings.Join(kai.FailingSensors, ",") != "sht4x" {
		t.Fatalf("Kai failing sensors %v, want sht4x", kai.FailingSensors)
	}
	if snap[2].Alarming() || snap[3].Alarming() {
		t.Fatal("a failing sensor alone made a device alarming")
	}

	// Days left count from now, not from when the health was sent.
	c.Advance(2 * 24 * time.Hour)
	if d := find(t, m, "Kai"); *d.CertDaysLeft != 3 {
		t.Fatalf("cert days left %d two days later, want 3", *d.CertDaysLeft)
	}
	// Going offline live is dated by the console.
	m.Handle("Cid/status", []byte("offline"), false)
	if d := find(t, m, "Cid"); d.Online || !d.Since.Equal(c.t) {
		t.Fatalf("Cid: online=%v since %v, want offline since %v", d.Online, d.Since, c.t)
	}
}

func TestReadingsPerMinute(t *testing.T) {
	m, c := newModel(t)
	for range 30 { // every 10 s for 5 minutes
		reading(m, "Kai", uint64(c.t.Unix()/10))
		c.Advance(10 * time.Second)
	}
	if r := find(t, m, "Kai").ReadingsPerMinute; r < 5.5 || r > 6.5 {
		t.Fatalf("readings per minute %.2f, want about 6", r)
	}
	c.Advance(2 * time.Minute)
	if r := find(t, m, "Kai").ReadingsPerMinute; r != 0 {
		t.Fatalf("readings per minute %.2f after two silent minutes, want 0", r)
	}
}

func TestIgnoresForeignMessages(t *testing.T) {
	m, _ := newModel(t)
	m.Handle("Kai/status", nil, true)                   // cleared retained message
	m.Handle("Kai/health", []byte("not json"), true)    //
	m.Handle("Kai/sensors/x", []byte(`{"a":1}`), false) // no seq
	m.Handle("noslash", []byte("online"), false)
	if snap := m.Snapshot(); len(snap) != 0 {
		t.Fatalf("foreign messages made devices: %+v", snap)
	}
}

func TestCollector(t *testing.T) {
	m, c := newModel(t)
	notAfter := c.t.Add(10*24*time.Hour + time.Hour).Format(time.RFC3339)
	m.Handle("Kai/status", []byte("online"), true)
	m.Handle("Kai/health", []byte(`{"device":"Kai","version":"1.2.3","time":"2026-12-02T12:00:00.000Z","backlog":4,
		"certs":[{"cert":"client","not_after":"`+notAfter+`"},{"cert":"ca","not_after":"`+notAfter+`"},{"cert":"broker","not_after":"`+notAfter+`"}],
		"sensors":[{"name":"bme280","failing":true}]}`), true)
	for _, s := range []uint64{1, 2, 2, 5} {
		reading(m, "Kai", s)
	}
	c.Advance(time.Minute)

	want := `
# HELP edgepub_device_backlog_readings Readings queued on the device and not yet acknowledged by the broker, from its health message.
# TYPE edgepub_device_backlog_readings gauge
edgepub_device_backlog_readings{device="Kai"} 4
# HELP edgepub_device_cert_days_left Whole days until the certificate expires; negative once expired.
# TYPE edgepub_device_cert_days_left gauge
edgepub_device_cert_days_left{cert="broker",device="Kai"} 10
edgepub_device_cert_days_left{cert="ca",device="Kai"} 10
edgepub_device_cert_days_left{cert="client",device="Kai"} 10
# HELP edgepub_device_info Always 1; the version label is the device's edgepub version.
# TYPE edgepub_device_info gauge
edgepub_device_info{device="Kai",version="1.2.3"} 1
# HELP edgepub_device_online 1 if the device's retained status is online, 0 if offline.
# TYPE edgepub_device_online gauge
edgepub_device_online{device="Kai"} 1
# HELP edgepub_device_readings_duplicate_total Readings received again with a seq already seen.
# TYPE edgepub_device_readings_duplicate_total counter
edgepub_device_readings_duplicate_total{device="Kai"} 1
# HELP edgepub_device_readings_missing_total Readings absent from the device's seq stream that it did not declare skipped.
# TYPE edgepub_device_readings_missing_total counter
edgepub_device_readings_missing_total{device="Kai"} 2
# HELP edgepub_device_readings_total Readings received from the device since the console started.
# TYPE edgepub_device_readings_total counter
edgepub_device_readings_total{device="Kai"} 4
# HELP edgepub_device_sensor_failing 1 if the sensor is failing, from the device's health message.
# TYPE edgepub_device_sensor_failing gauge
edgepub_device_sensor_failing{device="Kai",sensor="bme280"} 1
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(m))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"edgepub_device_backlog_readings", "edgepub_device_cert_days_left", "edgepub_device_info", "edgepub_device_online",
		"edgepub_device_readings_duplicate_total", "edgepub_device_readings_missing_total", "edgepub_device_readings_total",
		"edgepub_device_sensor_failing"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "edgepub_device_last_seen_timestamp_seconds"); err != nil || n != 1 {
		t.Fatalf("last seen series: %d, %v", n, err)
	}
}

// Snapshot builds its result outside the lock while messages keep coming;
// the race detector checks that what it reads is its own copy.
func TestSnapshotWhileHandling(t *testing.T) {
	m := New(Opts{Settle: time.Nanosecond})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := uint64(1); seq < 2000; seq += 2 { // every other seq missing
			reading(m, "Kai", seq)
			if seq%100 == 1 {
				m.Handle("Kai/health", []byte(`{"device":"Kai","sensors":[{"name":"sim","failing":true}],"seq_skipped":[{"first":1,"last":2}]}`), false)
			}
		}
	}()
	for {
		select {
		case <-done:
			if d := m.Snapshot()[0]; d.Missing+d.Skipped != 999 {
				t.Fatalf("missing %d + skipped %d, want 999 gaps (2, 4, … 1998)", d.Missing, d.Skipped)
			}
			return
		default:
			m.Snapshot()
		}
	}
}

// The JSON keys the README promises are there even for a device known
// only from a retained status.
func TestJSONKeys(t *testing.T) {
	m, _ := newModel(t)
	m.Handle("Kai/status", []byte("offline"), true)
	b, err := json.Marshal(m.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil || len(got) != 1 {
		t.Fatalf("%s: %v", b, err)
	}
	for _, key := range []string{"device", "online", "last_seen", "cert_days_left", "backlog", "missing", "duplicates", "failing_sensors", "version"} {
		if _, ok := got[0][key]; !ok {
			t.Errorf("no %q in %s", key, b)
		}
	}
}

// A device that renews its certificate itself says how that goes; a
// failing renewal is a problem the console names, before the expiry is.
func TestCertRenewalInTheConsole(t *testing.T) {
	m, _ := newModel(t)
	m.Handle("Kai/health", []byte(`{"device":"Kai","time":"2026-12-02T11:59:30.000Z","cert_renewal":{"state":"failing","failures":3}}`), true)
	m.Handle("Ann/health", []byte(`{"device":"Ann","time":"2026-12-02T11:59:30.000Z","cert_renewal":{"state":"waiting","failures":0}}`), true)
	snap := m.Snapshot()
	if len(snap) != 2 {
		t.Fatalf("%d devices, want Kai and Ann", len(snap))
	}
	for _, d := range snap {
		switch d.Device {
		case "Kai":
			if d.CertRenewal != "failing" || !strings.Contains(strings.Join(d.Problems, ";"), "certificate renewal failing (3 attempts)") {
				t.Errorf("Kai: renewal %q, problems %v", d.CertRenewal, d.Problems)
			}
		case "Ann":
			if d.CertRenewal != "waiting" || len(d.Problems) != 0 {
				t.Errorf("Ann: renewal %q, problems %v", d.CertRenewal, d.Problems)
			}
		}
	}
}
