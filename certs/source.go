package certs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgepub/edgepub/certs/internal/certfile"
	"github.com/edgepub/edgepub/internal/logging"
)

// Source holds the current Bundle so that the client pair can be rotated
// without a restart. It is safe for concurrent use.
type Source struct {
	dir    string
	names  Names
	logger *slog.Logger

	reloadMu sync.Mutex // one Reload at a time
	current  atomic.Pointer[Bundle]
	legacy   legacySightings
}

// NewSource returns a Source that starts with b (from Load, also when Load
// returned it with a *ValidityError) and reloads from dir with names, which
// are discovered again on every reload when empty. b must not be nil. A nil
// logger discards.
func NewSource(dir string, names Names, b *Bundle, logger *slog.Logger) *Source {
	if b == nil {
		panic("certs.NewSource: nil bundle")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{dir: dir, names: names, logger: logger}
	s.current.Store(b)
	return s
}

// Current returns the bundle in use. Callers must not modify it.
func (s *Source) Current() *Bundle { return s.current.Load() }

// Reload loads the files again and, if they pass, uses them from the next
// TLS handshake on; a change is logged with logging.MsgCertRotated. If they
// do not pass, the current pair stays in use and the error says why: a cert
// replaced before its key (briefly mismatched) is simply picked up by the
// next Reload.
//
// Files that are consistent but outside their validity period (a
// *ValidityError) replace the current bundle only if the current one is not
// valid at now either, so restoring an old backup never replaces a working
// certificate with an expired one. The *ValidityError is returned in both
// cases.
func (s *Source) Reload(now time.Time) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.current.Load()
	next, err := Load(s.dir, s.names, now)
	var validity *ValidityError
	if err != nil && (next == nil || !errors.As(err, &validity)) || validity != nil && cur.chainValidity(now) == nil {
		// The file may already hold the refused replacement, so name the
		// pair in use by what it is, not by its file.
		return certfile.ProblemWith(fmt.Sprintf("still using the previously loaded %s (CN %s, serial %s): %s",
			cur.CertFile, cur.Identity, cur.Leaf().SerialNumber.Text(16), err), err)
	}
	s.current.Store(next)
	if next.fingerprint == cur.fingerprint {
		return err
	}
	ctx := context.Background()
	leaf := next.Leaf()
	s.logger.LogAttrs(ctx, slog.LevelInfo, "client certificate rotated",
		logging.MessageID(logging.MsgCertRotated),
		slog.String("file", next.CertFile),
		slog.String("identity", next.Identity),
		slog.String("serial", leaf.SerialNumber.Text(16)),
		slog.Time("not_after", leaf.NotAfter),
		slog.Int("cert_days_left", DaysLeft(leaf, now)),
	)
	if next.Identity != cur.Identity {
		s.logger.LogAttrs(ctx, slog.LevelWarn,
			fmt.Sprintf("the new client certificate is for %q, the old one was for %q: the broker now sees a different user; restart edgepub so the MQTT client id follows", next.Identity, cur.Identity),
			slog.String("file", next.CertFile))
	}
	next.LogWarnings(ctx, s.logger)
	return err
}
