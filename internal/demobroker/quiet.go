package demobroker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mochi-mqtt/server/v2/packets"
)

// quietHandler passes on only records at or above a level. Mochi logs every
// connection and hook at info; for the demo only its warnings matter. Those
// carry whole packets (kilobytes of struct), shown as their kind, id and
// topic.
type quietHandler struct {
	min   slog.Level
	inner slog.Handler
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.inner.Enabled(ctx, l)
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	short := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if pk, ok := a.Value.Any().(packets.Packet); ok && a.Value.Kind() == slog.KindAny {
			a.Value = slog.StringValue(packetSummary(pk))
		}
		short.AddAttrs(a)
		return true
	})
	return h.inner.Handle(ctx, short)
}

func packetSummary(pk packets.Packet) string {
	s := fmt.Sprintf("%s id %d", packets.PacketNames[pk.FixedHeader.Type], pk.PacketID)
	if pk.TopicName != "" {
		s += " topic " + pk.TopicName
	}
	return s
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{min: h.min, inner: h.inner.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{min: h.min, inner: h.inner.WithGroup(name)}
}
