package signer

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
)

// crlLoop writes a new CRL once less than CRLRefresh of the current one
// remains, retrying every minute when writing or reloading fails.
func (s *Server) crlLoop(ctx context.Context) {
	for {
		wait := time.Minute
		if crl, err := s.opts.Authority.CRL(); err == nil {
			wait = max(time.Second, crl.NextUpdate.Add(-s.opts.CRLRefresh).Sub(s.opts.Now()))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := s.refreshCRL(ctx, false); err != nil {
			s.log.Error(err.Error(), logging.MessageID(logging.MsgCRLStale))
		}
	}
}

// refreshCRL writes a new CRL when the current one is missing, foreign,
// or has less than CRLRefresh left (or always, with force), then runs the
// reload command.
func (s *Server) refreshCRL(ctx context.Context, force bool) error {
	s.crlMu.Lock()
	defer s.crlMu.Unlock()
	a := s.opts.Authority
	now := s.opts.Now()
	crl, err := a.CRL()
	if err == nil && !force && crl.NextUpdate.Sub(now) > s.opts.CRLRefresh {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("replacing the CRL", "file", a.CRLFile, "error", err)
	}
	crl, err = a.WriteCRL(now, s.opts.CRLValidity)
	if err != nil {
		return err
	}
	s.log.Info("CRL written", "file", a.CRLFile, "number", crl.Number.String(), "revoked", len(crl.RevokedCertificateEntries),
		"next_update", crl.NextUpdate, "reason", "refresh", logging.MessageID(logging.MsgCRLWritten))
	return RunReload(ctx, s.opts.ReloadCommand, s.log)
}

// RunReload runs the command that makes Mosquitto read the new CRL.
func RunReload(ctx context.Context, command []string, log *slog.Logger) error {
	if len(command) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, command[0], command[1:]...).CombinedOutput()
	if err != nil {
		log.Error("the broker did not reload the CRL: it keeps using the old one until it restarts; fix the command (--reload-command) or reload Mosquitto by hand",
			"command", strings.Join(command, " "), "error", err, "output", strings.TrimSpace(string(out)), logging.MessageID(logging.MsgCRLStale))
		return nil
	}
	log.Info("broker reloaded the CRL", "command", strings.Join(command, " "))
	return nil
}
