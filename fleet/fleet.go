// Package fleet follows every edgepub device from the broker alone: the
// retained <device>/status and <device>/health messages and the readings on
// <device>/sensors/#. It keeps per device whether it is online, how fresh
// its readings are, which seqs went missing (apart from ranges the device
// declared skipped), duplicates, backlog, certificates and failing sensors,
// for `edgepub fleet` and its Prometheus collector.
package fleet

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
)

// Opts configures a Model.
type Opts struct {
	// ErrorDays is the certificate days left at or below which a device
	// counts as a problem; the device's certs.error_days, default 7.
	ErrorDays int
	// Settle is how long a seq gap waits for a late declaration before it
	// counts as missing; default 30 s.
	Settle time.Duration
	// Now is the clock.
	Now func() time.Time
}

// Model is the state of every device seen. It is safe for concurrent use.
type Model struct {
	opts Opts

	mu      sync.Mutex
	devices map[string]*device
}

// New returns an empty Model.
func New(opts Opts) *Model {
	if opts.ErrorDays == 0 {
		opts.ErrorDays = 7
	}
	if opts.Settle == 0 {
		opts.Settle = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Model{opts: opts, devices: make(map[string]*device)}
}

// Topics are the subscriptions that feed a Model.
var Topics = []string{"+/status", "+/health", "+/sensors/#"}

// device is what the Model keeps per device; Device is its snapshot.
type device struct {
	online, statusKnown bool
	since               time.Time
	lastSeen            time.Time
	lastReading         time.Time // the reading's own time
	readings            uint64
	rate                rateMeter
	seq                 seqTracker
	health              health
	healthKnown         bool
	healthSent          time.Time // the health message's own time
}

// health is the part of the device's health message the console uses.
type health struct {
	Version    string  `json:"version"`
	Time       string  `json:"time"`
	Backlog    int     `json:"backlog"`
	OldestAgeS float64 `json:"oldest_age_s"`
	Reconnects uint64  `json:"reconnects"`
	Dropped    uint64  `json:"dropped"`
	Certs      []struct {
		Which    string    `json:"cert"`
		NotAfter time.Time `json:"not_after"`
	} `json:"certs"`
	Sensors []struct {
		Name    string `json:"name"`
		Failing bool   `json:"failing"`
	} `json:"sensors"`
	SeqSkipped []struct {
		First uint64 `json:"first"`
		Last  uint64 `json:"last"`
	} `json:"seq_skipped"`
	// Delivery is the device's check that the broker routes its
	// publishes (confirmed, unconfirmed, unchecked, off), if it has one.
	Delivery string `json:"delivery"`
}

// Handle takes one message from the broker. retained is the MQTT retain
// flag: a retained message tells the state, not when it began.
func (m *Model) Handle(topic string, payload []byte, retained bool) {
	name, rest, ok := strings.Cut(topic, "/")
	if !ok || name == "" {
		return
	}
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case rest == "status":
		m.status(name, payload, retained, now)
	case rest == "health":
		m.healthMessage(name, payload, retained, now)
	case strings.HasPrefix(rest, "sensors/"):
		m.reading(name, payload, now)
	}
}

func (m *Model) get(name string) *device {
	d := m.devices[name]
	if d == nil {
		d = &device{}
		m.devices[name] = d
	}
	return d
}

func (m *Model) status(name string, payload []byte, retained bool, now time.Time) {
	var online bool
	switch string(bytes.TrimSpace(payload)) {
	case "online":
		online = true
	case "offline":
	default:
		return // a cleared retained message or not edgepub's
	}
	d := m.get(name)
	if d.statusKnown && d.online == online {
		return
	}
	d.online, d.statusKnown, d.since = online, true, now
	if retained {
		// The state is older than this console: the last health message
		// tells when the device was last heard of, if known.
		d.since = time.Time{}
		if !online {
			d.since = d.healthSent
		}
	} else {
		d.lastSeen = later(d.lastSeen, now)
	}
}

func (m *Model) healthMessage(name string, payload []byte, retained bool, now time.Time) {
	var h health
	if len(payload) == 0 || json.Unmarshal(payload, &h) != nil {
		return
	}
	d := m.get(name)
	d.health, d.healthKnown = h, true
	sent, _ := time.Parse(time.RFC3339Nano, h.Time) // zero if odd: then unknown
	d.healthSent = sent
	d.lastSeen = later(d.lastSeen, sent)
	if !retained {
		d.lastSeen = later(d.lastSeen, now)
	}
	if d.statusKnown && !d.online && d.since.IsZero() {
		d.since = sent
	}
	spans := make([]span, 0, len(h.SeqSkipped))
	for _, s := range h.SeqSkipped {
		spans = append(spans, span{s.First, s.Last})
	}
	d.seq.declare(spans)
}

func (m *Model) reading(name string, payload []byte, now time.Time) {
	var r struct {
		Seq  uint64 `json:"seq"`
		Time string `json:"time"`
	}
	if json.Unmarshal(payload, &r) != nil || r.Seq == 0 {
		return
	}
	// A reading counts by its seq even if its time does not parse.
	taken, _ := time.Parse(time.RFC3339Nano, r.Time)
	d := m.get(name)
	d.readings++
	d.rate.add(now)
	d.lastSeen = later(d.lastSeen, now)
	d.lastReading = later(d.lastReading, taken)
	d.seq.see(r.Seq, now)
}

// Resync tells the Model that the console (re)connected: it may have
// missed readings while away, so no device's next gap is counted.
func (m *Model) Resync() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.devices {
		d.seq.resync = true
	}
}

// SettleAll counts every open gap as missing now, as a console about to
// exit must.
func (m *Model) SettleAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	far := m.opts.Now().Add(time.Hour)
	for _, d := range m.devices {
		d.seq.settle(far)
	}
}

// Device is one device's state.
type Device struct {
	Device string `json:"device"`
	Online bool   `json:"online"`
	// StatusKnown is false while no status message was seen, HealthKnown
	// while no health message was.
	StatusKnown bool `json:"status_known"`
	HealthKnown bool `json:"health_known"`
	// Since is when the device went online or offline; zero if that
	// happened before the console started and no health message tells.
	Since time.Time `json:"since,omitzero"`
	// LastSeen is when the device was last heard of: any live message,
	// or the time in its last health message; nil (null) if neither.
	LastSeen *time.Time `json:"last_seen"`
	// LastReading is the time (as the device took it) of the newest reading.
	LastReading       time.Time `json:"last_reading,omitzero"`
	Readings          uint64    `json:"readings"`
	ReadingsPerMinute float64   `json:"readings_per_minute"`
	// Missing counts readings absent from the seq stream that the device
	// did not declare skipped.
	Missing uint64 `json:"missing"`
	// Skipped counts absent readings inside ranges the device declared
	// skipped (health seq_skipped).
	Skipped    uint64 `json:"skipped"`
	Duplicates uint64 `json:"duplicates"`
	// SeqRestarts counts how often seq started again at 1 (a wiped state dir).
	SeqRestarts uint64  `json:"seq_restarts"`
	Backlog     int     `json:"backlog"`
	OldestAgeS  float64 `json:"oldest_age_s"`
	Reconnects  uint64  `json:"reconnects"`
	Dropped     uint64  `json:"dropped"`
	// CertDaysLeft is the fewest days left of CertsDaysLeft; nil if the
	// device sent none.
	CertDaysLeft *int `json:"cert_days_left"`
	// CertsDaysLeft maps "client", "intermediate", "ca" and "broker" to
	// days left now, from the NotAfter the device reported.
	CertsDaysLeft  map[string]int `json:"certs_days_left,omitempty"`
	Version        string         `json:"version"`
	Sensors        []string       `json:"sensors"`
	FailingSensors []string       `json:"failing_sensors"`
	// Delivery is the device's own check that the broker routes its
	// publishes, if it reports one.
	Delivery string `json:"delivery,omitempty"`
	// Problems names what makes the device need attention, worst first;
	// empty when all is well.
	Problems []string `json:"problems"`
	// CertExpiring is true when a certificate is within ErrorDays.
	CertExpiring bool `json:"cert_expiring"`
}

// Snapshot returns every device, worst first: offline, missing readings,
// expiring certificates, failing sensors, then by name. It first counts
// gaps that waited Settle as missing.
func (m *Model) Snapshot() []Device {
	now := m.opts.Now()
	type named struct {
		name string
		d    device
	}
	// Copies under the lock, the rest without it: readings keep flowing
	// while a scrape of thousands of devices is built. Health messages
	// replace their slices rather than change them, so shallow copies do.
	m.mu.Lock()
	copies := make([]named, 0, len(m.devices))
	for name, d := range m.devices {
		d.seq.settle(now.Add(-m.opts.Settle))
		copies = append(copies, named{name, *d})
	}
	m.mu.Unlock()
	out := make([]Device, 0, len(copies))
	for i := range copies {
		out = append(out, m.snapshot(copies[i].name, &copies[i].d, now))
	}
	slices.SortFunc(out, func(a, b Device) int {
		if c := cmp.Compare(rank(b), rank(a)); c != 0 {
			return c
		}
		return strings.Compare(a.Device, b.Device)
	})
	return out
}

// rank orders problems: each weighs more than all below it together.
func rank(d Device) int {
	r := 0
	if d.StatusKnown && !d.Online {
		r += 8
	}
	if d.Missing > 0 {
		r += 4
	}
	if d.CertExpiring {
		r += 2
	}
	if len(d.FailingSensors) > 0 {
		r++
	}
	return r
}

func (m *Model) snapshot(name string, d *device, now time.Time) Device {
	h := d.health
	out := Device{
		Device: name, Online: d.online, StatusKnown: d.statusKnown, HealthKnown: d.healthKnown, Since: d.since,
		LastReading: d.lastReading, Readings: d.readings, ReadingsPerMinute: d.rate.perMinute(now),
		Missing: d.seq.missing, Skipped: d.seq.skipped, Duplicates: d.seq.duplicates, SeqRestarts: d.seq.restarts,
		Backlog: h.Backlog, OldestAgeS: h.OldestAgeS, Reconnects: h.Reconnects, Dropped: h.Dropped,
		Version: h.Version, Sensors: []string{}, FailingSensors: []string{},
		Delivery: h.Delivery, Problems: []string{},
	}
	if !d.lastSeen.IsZero() {
		seen := d.lastSeen
		out.LastSeen = &seen
	}
	for _, c := range h.Certs {
		if out.CertsDaysLeft == nil {
			out.CertsDaysLeft = make(map[string]int, len(h.Certs))
		}
		days := daysUntil(c.NotAfter, now)
		if old, ok := out.CertsDaysLeft[c.Which]; !ok || days < old {
			out.CertsDaysLeft[c.Which] = days
		}
		if out.CertDaysLeft == nil || days < *out.CertDaysLeft {
			out.CertDaysLeft = &days
		}
	}
	out.CertExpiring = out.CertDaysLeft != nil && *out.CertDaysLeft <= m.opts.ErrorDays
	for _, s := range h.Sensors {
		if slices.Contains(out.Sensors, s.Name) {
			continue
		}
		out.Sensors = append(out.Sensors, s.Name)
		if s.Failing {
			out.FailingSensors = append(out.FailingSensors, s.Name)
		}
	}
	if out.StatusKnown && !out.Online {
		out.Problems = append(out.Problems, "offline")
	}
	if out.Missing > 0 {
		out.Problems = append(out.Problems, "missing readings")
	}
	if out.CertExpiring {
		out.Problems = append(out.Problems, "certificate expiring")
	}
	if len(out.FailingSensors) > 0 {
		out.Problems = append(out.Problems, "failing sensors")
	}
	if out.Delivery == "unconfirmed" {
		out.Problems = append(out.Problems, "delivery unconfirmed")
	}
	return out
}

// Alarming reports whether a device needs someone now: offline,
// unexplained missing readings, or a certificate within ErrorDays. A
// failing sensor alone is not, as the device says so itself.
func (d Device) Alarming() bool {
	return (d.StatusKnown && !d.Online) || d.Missing > 0 || d.CertExpiring
}

// daysUntil is certs.DaysLeft's rule: whole days, floored, negative once past.
func daysUntil(t, now time.Time) int {
	d := t.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// rateMeter counts readings in six 10 s buckets: the last minute.
type rateMeter struct {
	buckets [6]uint32
	head    int64 // index (Unix time / 10 s) of the newest bucket
	first   time.Time
}

const bucketWidth = 10 * time.Second

func (r *rateMeter) advance(now time.Time) {
	idx := now.UnixNano() / int64(bucketWidth)
	if r.head == 0 {
		r.head = idx
		return
	}
	for i := r.head + 1; i <= idx && i <= r.head+int64(len(r.buckets)); i++ {
		r.buckets[i%int64(len(r.buckets))] = 0
	}
	r.head = max(r.head, idx)
}

func (r *rateMeter) add(now time.Time) {
	if r.first.IsZero() {
		r.first = now
	}
	r.advance(now)
	r.buckets[r.head%int64(len(r.buckets))]++
}

// perMinute is the rate over the last minute, or over the time since the
// first reading if that is shorter.
func (r *rateMeter) perMinute(now time.Time) float64 {
	if r.first.IsZero() {
		return 0
	}
	r.advance(now)
	var n uint32
	for _, b := range r.buckets {
		n += b
	}
	// The window is the five full buckets plus the current one's part.
	window := 5*bucketWidth + time.Duration(now.UnixNano()%int64(bucketWidth))
	if seen := now.Sub(r.first); seen < window {
		window = max(seen, bucketWidth)
	}
	return float64(n) / window.Minutes()
}
