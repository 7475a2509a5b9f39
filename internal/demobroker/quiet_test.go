package demobroker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Mochi's "error processing packet" warning, as server.go logs it while the
// demo shuts down, carries the whole packet: one short line is left of it.
func TestQuietHandlerShortensPackets(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(quietHandler{min: slog.LevelWarn, inner: slog.NewTextHandler(&out, nil)})
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 7,
		TopicName: "demo-pi/sensors/soc", Payload: bytes.Repeat([]byte("x"), 8<<10)}
	log.Info("client connected", "pk", pk)
	log.Warn("error processing packet", "error", "use of closed network connection", "client", "demo-pi", "pk", pk)
	got := out.String()
	if strings.Contains(got, "client connected") || strings.Count(got, "\n") != 1 {
		t.Errorf("want the warning only:\n%s", got)
	}
	if len(got) > 300 || !strings.Contains(got, "pk=\"Publish id 7 topic demo-pi/sensors/soc\"") {
		t.Errorf("%d bytes:\n%.400s", len(got), got)
	}
}
