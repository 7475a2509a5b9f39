package logging

import (
	"context"
	"log/slog"
	"strings"
	"unicode"

	slogjournal "github.com/systemd/slog-journal"
)

// journalHandler puts slog-journal's handler behind the daemon's level
// scale. slog-journal maps only its exact level constants to priorities and
// sends everything else as info, so LevelCritical (Error+4) or Warn+2 would
// arrive as priority 6 without this.
type journalHandler struct {
	level slog.Level
	inner slog.Handler
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = journalLevel(r.Level)
	return h.inner.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &journalHandler{level: h.level, inner: h.inner.WithAttrs(attrs)}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{level: h.level, inner: h.inner.WithGroup(name)}
}

// journalLevel rounds a level down to the nearest one slog-journal turns
// into a syslog priority: debug 7, info 6, notice 5, warning 4, err 3, crit 2.
func journalLevel(l slog.Level) slog.Level {
	switch {
	case l >= LevelCritical:
		return slogjournal.LevelCritical
	case l >= slog.LevelError:
		return slog.LevelError
	case l >= slog.LevelWarn:
		return slog.LevelWarn
	case l > slog.LevelInfo:
		return slogjournal.LevelNotice
	case l >= slog.LevelInfo:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// journalAttr renames an attribute to a journald field (cert_days_left →
// CERT_DAYS_LEFT) and redacts key material. An attribute whose name has no
// usable character is dropped: journald would reject the whole record.
func journalAttr(_ []string, a slog.Attr) slog.Attr {
	a = redact(a)
	a.Key = journalField(a.Key)
	if a.Key == "" {
		return slog.Attr{}
	}
	return a
}

// maxFieldLen is journald's limit on field names.
const maxFieldLen = 64

// journalField turns an attribute or group name into a valid journald field
// name (^[A-Z_][A-Z0-9_]*$): lower_snake and camelCase become UPPER_SNAKE,
// other characters become '_'. Leading underscores are stripped because
// journald reserves such fields for itself and drops them, and names that
// would collide with the fields slog-journal writes itself (MESSAGE,
// PRIORITY, CODE_*, SYSLOG_*) get an EDGEPUB_ prefix. MESSAGE_ID passes
// unchanged: setting it is the point of the message ids.
func journalField(name string) string {
	var b strings.Builder
	var prev rune
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(unicode.ToUpper(r))
		case r >= 'A' && r <= 'Z':
			if prev >= 'a' && prev <= 'z' || prev >= '0' && prev <= '9' {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		prev = r
	}
	field := strings.TrimLeft(b.String(), "_")
	switch {
	case field == "":
		return ""
	case field[0] >= '0' && field[0] <= '9':
		field = "N" + field
	case field == "MESSAGE" || field == "PRIORITY" ||
		strings.HasPrefix(field, "CODE_") || strings.HasPrefix(field, "SYSLOG_"):
		field = "EDGEPUB_" + field
	}
	if len(field) > maxFieldLen {
		field = field[:maxFieldLen]
	}
	return field
}
