package fleet

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes a Model to Prometheus, one series per device, made at
// scrape time from a snapshot as node_exporter's collectors do.
type Collector struct {
	model *Model

	online, lastSeen, readings, missing, duplicates, backlog, certDays, sensorFailing, info *prometheus.Desc
}

// NewCollector returns a Collector over m.
func NewCollector(m *Model) *Collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("edgepub", "device", name), help, append([]string{"device"}, labels...), nil)
	}
	return &Collector{
		model:         m,
		online:        desc("online", "1 if the device's retained status is online, 0 if offline."),
		lastSeen:      desc("last_seen_timestamp_seconds", "When the device was last heard of: any message, or the time in its health message."),
		readings:      desc("readings_total", "Readings received from the device since the console started."),
		missing:       desc("readings_missing_total", "Readings absent from the device's seq stream that it did not declare skipped."),
		duplicates:    desc("readings_duplicate_total", "Readings received again with a seq already seen."),
		backlog:       desc("backlog_readings", "Readings queued on the device and not yet acknowledged by the broker, from its health message."),
		certDays:      desc("cert_days_left", "Whole days until the certificate expires; negative once expired.", "cert"),
		sensorFailing: desc("sensor_failing", "1 if the sensor is failing, from the device's health message.", "sensor"),
		info:          desc("info", "Always 1; the version label is the device's edgepub version.", "version"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.online, c.lastSeen, c.readings, c.missing, c.duplicates, c.backlog, c.certDays, c.sensorFailing, c.info} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.model.Snapshot() {
		name := d.Device
		if d.StatusKnown {
			ch <- prometheus.MustNewConstMetric(c.online, prometheus.GaugeValue, boolValue(d.Online), name)
		}
		if d.LastSeen != nil {
			ch <- prometheus.MustNewConstMetric(c.lastSeen, prometheus.GaugeValue, float64(d.LastSeen.UnixMilli())/1000, name)
		}
		ch <- prometheus.MustNewConstMetric(c.readings, prometheus.CounterValue, float64(d.Readings), name)
		ch <- prometheus.MustNewConstMetric(c.missing, prometheus.CounterValue, float64(d.Missing), name)
		ch <- prometheus.MustNewConstMetric(c.duplicates, prometheus.CounterValue, float64(d.Duplicates), name)
		if !d.HealthKnown {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(d.Backlog), name)
		for which, days := range d.CertsDaysLeft {
			ch <- prometheus.MustNewConstMetric(c.certDays, prometheus.GaugeValue, float64(days), name, which)
		}
		failing := make(map[string]bool, len(d.FailingSensors))
		for _, s := range d.FailingSensors {
			failing[s] = true
		}
		for _, s := range d.Sensors {
			ch <- prometheus.MustNewConstMetric(c.sensorFailing, prometheus.GaugeValue, boolValue(failing[s]), name, s)
		}
		ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, name, d.Version)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
