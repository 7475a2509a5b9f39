package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgepub/edgepub/certs/internal/certfile"
	"github.com/edgepub/edgepub/internal/logging"
)

// Warning is a hygiene problem that does not stop the bundle from working.
type Warning struct {
	// File is the file the warning is about.
	File string `json:"file"`
	// Message says what is wrong and what to do, in one line.
	Message string `json:"message"`
	// MessageID is one of the logging.Msg ids, or empty.
	MessageID string `json:"message_id,omitempty"`
}

// LogWarnings logs each warning with its file and message id (journald's
// MESSAGE_ID). A CA key on the device is logged at error level: it endangers
// the whole fleet, not just this device.
func (b *Bundle) LogWarnings(ctx context.Context, logger *slog.Logger) {
	for _, w := range b.Warnings {
		level := slog.LevelWarn
		attrs := []slog.Attr{slog.String("file", w.File)}
		if w.MessageID != "" {
			attrs = append(attrs, logging.MessageID(w.MessageID))
		}
		if w.MessageID == logging.MsgCAKeyOnDevice {
			level = slog.LevelError
		}
		logger.LogAttrs(ctx, level, w.Message, attrs...)
	}
}

// hygieneWarnings looks for a key readable by others and for the CA's
// private key, which the tutorial says must not stay on a device: whoever reads
// it can mint certificates for every device and the broker.
func hygieneWarnings(b *Bundle) []Warning {
	var out []Warning
	if st, err := os.Stat(b.KeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
		who := certfile.CurrentUser()
		out = append(out, Warning{
			File: b.KeyFile,
			Message: fmt.Sprintf("client key %s can be read by group or others (mode %04o): run `chmod 600 %s` and `chown %s %s` so only the service can read it",
				b.KeyFile, st.Mode().Perm(), b.KeyFile, who.Name, b.KeyFile),
		})
	}
	for _, f := range caKeyFiles(b.Dir, b.KeyFile, b.CA) {
		out = append(out, Warning{
			File: f,
			Message: fmt.Sprintf("the CA's private key %s is on this device: anyone who reads it can issue certificates the broker trusts; move it to an offline place and delete it here (`shred -u %s`)",
				f, f),
			MessageID: logging.MsgCAKeyOnDevice,
		})
	}
	return out
}

// caKeyFiles lists files of dir that are the CA's private key: ca.key
// whatever it holds, and any private key that matches a CA certificate.
func caKeyFiles(dir, skip string, cas []*x509.Certificate) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var found []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if path == skip {
			continue
		}
		if e.Name() == certfile.CAKeyName {
			found = append(found, path)
			continue
		}
		data, err := certfile.ReadBounded(path)
		if err != nil || !bytes.Contains(data, []byte("PRIVATE KEY-----")) {
			continue
		}
		key, err := certfile.ParsePrivateKey(path, "key", data)
		if err != nil {
			continue
		}
		for _, c := range cas {
			if certfile.SamePublicKey(c.PublicKey, key.Signer.Public()) {
				found = append(found, path)
				break
			}
		}
	}
	return found
}
