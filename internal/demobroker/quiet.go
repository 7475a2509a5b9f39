package demobroker

import (
	"context"
	"log/slog"
)

// quietHandler passes on only records at or above a level. Mochi logs every
// connection and hook at info; for the demo only its warnings matter.
type quietHandler struct {
	min   slog.Level
	inner slog.Handler
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.inner.Enabled(ctx, l)
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{min: h.min, inner: h.inner.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{min: h.min, inner: h.inner.WithGroup(name)}
}
