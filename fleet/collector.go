package fleet

import (
	"bufio"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Collector exposes a Model to Prometheus in its text exposition format
// (version 0.0.4), one series per device, made at scrape time from a
// snapshot as node_exporter's collectors do. It writes the format itself
// rather than through client_golang: that library's package init (default
// registry, Go and process collectors, protobuf descriptors) would run in
// every `edgepub run` of the one binary, and it makes up 3 MB of the file
// (BENCHMARKS.md, issue 16).
type Collector struct {
	model *Model
}

// NewCollector returns a Collector over m.
func NewCollector(m *Model) *Collector { return &Collector{model: m} }

// family is one metric: its name (after edgepub_device_), type and help.
type family struct{ name, typ, help string }

// The families in the order they are written (sorted by name, as a
// registry gathers them).
var (
	famBacklog       = family{"backlog_readings", "gauge", "Readings queued on the device and not yet acknowledged by the broker, from its health message."}
	famCertDays      = family{"cert_days_left", "gauge", "Whole days until the certificate expires; negative once expired."}
	famInfo          = family{"info", "gauge", "Always 1; the version label is the device's edgepub version."}
	famLastSeen      = family{"last_seen_timestamp_seconds", "gauge", "When the device was last heard of: any message, or the time in its health message."}
	famOnline        = family{"online", "gauge", "1 if the device's retained status is online, 0 if offline."}
	famDuplicates    = family{"readings_duplicate_total", "counter", "Readings received again with a seq already seen."}
	famMissing       = family{"readings_missing_total", "counter", "Readings absent from the device's seq stream that it did not declare skipped."}
	famReadings      = family{"readings_total", "counter", "Readings received from the device since the console started."}
	famSensorFailing = family{"sensor_failing", "gauge", "1 if the sensor is failing, from the device's health message."}
	families         = []family{famBacklog, famCertDays, famInfo, famLastSeen, famOnline, famDuplicates, famMissing, famReadings, famSensorFailing}
)

// ContentType is the Content-Type of what WriteText writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes every device's series; a family without series is left
// out.
func (c *Collector) WriteText(w io.Writer) error {
	series := make(map[family][]byte, len(families))
	add := func(f family, v float64, labels ...string) {
		b := series[f]
		b = append(b, "edgepub_device_"...)
		b = append(b, f.name...)
		b = append(b, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, labels[i]...)
			b = append(b, `="`...)
			b = append(b, labelEscaper.Replace(labels[i+1])...)
			b = append(b, '"')
		}
		b = append(b, "} "...)
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
		series[f] = append(b, '\n')
	}
	for _, d := range c.model.Snapshot() {
		name := d.Device
		if d.StatusKnown {
			add(famOnline, boolValue(d.Online), "device", name)
		}
		if d.LastSeen != nil {
			add(famLastSeen, float64(d.LastSeen.UnixMilli())/1000, "device", name)
		}
		add(famReadings, float64(d.Readings), "device", name)
		add(famMissing, float64(d.Missing), "device", name)
		add(famDuplicates, float64(d.Duplicates), "device", name)
		if !d.HealthKnown {
			continue
		}
		add(famBacklog, float64(d.Backlog), "device", name)
		for _, which := range slices.Sorted(maps.Keys(d.CertsDaysLeft)) {
			add(famCertDays, float64(d.CertsDaysLeft[which]), "cert", which, "device", name)
		}
		failing := make(map[string]bool, len(d.FailingSensors))
		for _, s := range d.FailingSensors {
			failing[s] = true
		}
		for _, s := range d.Sensors {
			add(famSensorFailing, boolValue(failing[s]), "device", name, "sensor", s)
		}
		add(famInfo, 1, "device", name, "version", d.Version)
	}
	bw := bufio.NewWriter(w)
	for _, f := range families {
		if len(series[f]) == 0 {
			continue
		}
		full := "edgepub_device_" + f.name
		bw.WriteString("# HELP " + full + " " + helpEscaper.Replace(f.help) + "\n# TYPE " + full + " " + f.typ + "\n")
		bw.Write(series[f])
	}
	return bw.Flush()
}

// The escapes of the text format: label values escape \, " and newline;
// help texts \ and newline.
var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
