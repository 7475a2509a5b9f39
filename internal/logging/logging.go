package logging

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	slogjournal "github.com/systemd/slog-journal"
)

// LevelCritical marks records after which the daemon cannot do its job
// (e.g. the client certificate expired). journald stores it as priority 2
// (crit); text output labels it CRIT.
const LevelCritical = slog.LevelError + 4

// Opts configure New.
type Opts struct {
	// Level is the least severe level logged; the zero value is Info.
	Level slog.Level
	// Stderr receives text logs; nil means os.Stderr. Only os.Stderr can be
	// the journal stream, so any other writer always gets text.
	Stderr io.Writer
	// ForceText writes text even when stderr is connected to journald,
	// e.g. for `edgepub run` started by hand inside a unit's shell.
	ForceText bool
}

// New returns the logger for the whole daemon. Under systemd, where stderr
// is the journal stream, records go to journald over its native protocol,
// so every attribute becomes a field one can query with
// `journalctl DEVICE=… SENSOR=…` and levels become journald priorities.
// Anywhere else the output is slog's text format with a short time stamp.
//
// Attributes named like private key material, and values that are private
// keys or PEM key blocks, are replaced by "REDACTED" in both outputs.
func New(opts Opts) *slog.Logger {
	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	if !opts.ForceText && stderr == os.Stderr {
		if isJournal, _ := journal.StderrIsJournalStream(); isJournal {
			h, err := newJournalHandler(opts.Level)
			if err == nil {
				return slog.New(h)
			}
			logger := slog.New(newTextHandler(stderr, opts.Level))
			logger.Warn("cannot log to journald natively; writing text to stderr", "error", err)
			return logger
		}
	}
	return slog.New(newTextHandler(stderr, opts.Level))
}

func newTextHandler(w io.Writer, level slog.Level) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: textAttr})
}

// textAttr shortens the time to what a person reading a terminal needs and
// names LevelCritical, which slog would print as "ERROR+4".
func textAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		switch a.Key {
		case slog.TimeKey:
			if t, ok := a.Value.Any().(time.Time); ok {
				return slog.String(slog.TimeKey, t.Format("15:04:05.000"))
			}
			return a
		case slog.LevelKey:
			if l, ok := a.Value.Any().(slog.Level); ok && l >= LevelCritical {
				return slog.String(slog.LevelKey, "CRIT")
			}
			return a
		}
	}
	return redact(a)
}

func newJournalHandler(level slog.Level) (slog.Handler, error) {
	h, err := slogjournal.NewHandler(&slogjournal.Options{
		Level:        level,
		ReplaceAttr:  journalAttr,
		ReplaceGroup: journalField,
	})
	if err != nil {
		return nil, err
	}
	return &journalHandler{level: level, inner: h}, nil
}
