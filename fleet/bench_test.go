package fleet

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fleetOf returns a Model holding n devices with a health message and a
// few readings each, as bench/fleet -console feeds the console.
func fleetOf(b *testing.B, n int) *Model {
	b.Helper()
	c := &clock{t: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	m := New(Opts{Now: c.Now})
	for i := range n {
		dev := fmt.Sprintf("dev-%05d", i)
		m.Handle(dev+"/status", []byte("online"), true)
		m.Handle(dev+"/health", []byte(`{"device":"`+dev+`","version":"1.0.0","time":"2026-12-02T12:00:00.000Z","backlog":0,`+
			`"certs":[{"cert":"client","not_after":"2028-12-02T12:00:00Z"},{"cert":"ca","not_after":"2030-12-02T12:00:00Z"},{"cert":"broker","not_after":"2028-12-02T12:00:00Z"}],`+
			`"sensors":[{"name":"environment","failing":false}]}`), true)
		for seq := range uint64(3) {
			reading(m, dev, seq+1)
		}
	}
	return m
}

func BenchmarkHandleReading(b *testing.B) {
	m := fleetOf(b, 10000)
	payload := []byte(`{"device":"dev-00042","sensor":"environment","seq":4,"time":"2026-12-02T12:00:00.000Z","humidity_pct":40.1,"pressure_hpa":1013.2,"temperature_c":21.53}`)
	b.ReportAllocs()
	for b.Loop() {
		m.Handle("dev-00042/sensors/environment", payload, false)
	}
}

func BenchmarkSnapshot10k(b *testing.B) {
	m := fleetOf(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		m.Snapshot()
	}
}

func BenchmarkGather10k(b *testing.B) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(fleetOf(b, 10000)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
