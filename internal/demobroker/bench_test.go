package demobroker

import (
	"crypto/tls"
	"sync/atomic"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// BenchmarkPublishQoS1 measures one QoS 1 publish through TLS, the rules and
// the observer, waiting for its PUBACK each time as edgepub's window of one
// would.
func BenchmarkPublishQoS1(b *testing.B) {
	ca := newTestCA(b, "MQTT-CA")
	broker, err := Start(b.Context(), Opts{TLS: ca.serverTLSConfig(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Close()
	var delivered atomic.Int64
	if err := broker.Subscribe("Kai/#", func(Message) { delivered.Add(1) }); err != nil {
		b.Fatal(err)
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("kai-pi").
		SetTLSConfig(&tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{ca.clientCert(b, "Kai")}}).
		SetAutoReconnect(false))
	if err := waitToken(c.Connect()); err != nil {
		b.Fatal(err)
	}
	defer c.Disconnect(100)
	payload := []byte(`{"temperature_c":21.53,"humidity_pct":48.2,"pressure_hpa":1013.41}`)
	for b.Loop() {
		if err := waitToken(c.Publish("Kai/sensors/room", 1, false, payload)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if delivered.Load() == 0 {
		b.Fatal("nothing delivered")
	}
}
