package certs

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/periodic"
)

// ExpiryOpts configures an ExpiryWatcher. Zero fields take the defaults.
type ExpiryOpts struct {
	// WarnDays: a certificate with this many days or fewer left is logged as
	// a warning; default 30.
	WarnDays int
	// ErrorDays: with this many days or fewer left it is logged as an error;
	// default 7.
	ErrorDays int
	// Interval between checks; default 24 h.
	Interval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the records; nil discards.
	Logger *slog.Logger
}

// Default expiry thresholds.
const (
	DefaultWarnDays       = 30
	DefaultErrorDays      = 7
	DefaultExpiryInterval = 24 * time.Hour
)

// rotationPoll is how often Run looks whether the Source swapped bundles,
// so a rotated certificate is checked at once rather than a day later.
const rotationPoll = time.Minute

// Level grades a certificate's validity.
type Level string

// Levels, from fine to worst.
const (
	LevelOK          Level = "ok"
	LevelWarning     Level = "warning"       // WarnDays or fewer left
	LevelError       Level = "error"         // ErrorDays or fewer left
	LevelExpired     Level = "expired"       // after NotAfter
	LevelNotYetValid Level = "not_yet_valid" // before NotBefore: clock or issuance problem
)

// CertStatus is the validity of one certificate the device depends on.
type CertStatus struct {
	// Which is "client", "intermediate", "ca" or "broker".
	Which string `json:"cert"`
	// File is where the certificate came from; empty for the broker's.
	File string `json:"file,omitempty"`
	// Subject is the certificate's subject.
	Subject string `json:"subject"`
	// NotAfter is when the certificate expires.
	NotAfter time.Time `json:"not_after"`
	// DaysLeft is as DaysLeft: negative once expired.
	DaysLeft int `json:"days_left"`
	// Level grades it against the thresholds.
	Level Level `json:"level"`
}

// ExpiryWatcher checks the client certificate, its intermediates, the CA
// certificates and the last broker certificate seen, logs those that expire
// soon and answers days-left questions for the device status. It is safe for
// concurrent use.
type ExpiryWatcher struct {
	src  *Source
	opts ExpiryOpts

	mu     sync.Mutex
	broker *x509.Certificate
}

// NewExpiryWatcher returns a watcher over src's current bundle.
func NewExpiryWatcher(src *Source, opts ExpiryOpts) *ExpiryWatcher {
	if opts.WarnDays <= 0 {
		opts.WarnDays = DefaultWarnDays
	}
	if opts.ErrorDays <= 0 {
		opts.ErrorDays = DefaultErrorDays
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultExpiryInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &ExpiryWatcher{src: src, opts: opts}
}

// SetBrokerCert records the broker's certificate; pass it as
// TLSOpts.OnServerCert. A certificate not seen before is checked at once.
func (w *ExpiryWatcher) SetBrokerCert(c *x509.Certificate) {
	w.mu.Lock()
	changed := w.broker == nil || !w.broker.Equal(c)
	w.broker = c
	w.mu.Unlock()
	if changed {
		w.log(context.Background(), w.status("broker", "", c, w.opts.Now()))
	}
}

// Run checks at once, then every Interval and whenever the Source rotates
// the client pair, until ctx is done.
func (w *ExpiryWatcher) Run(ctx context.Context) error {
	w.Start(ctx).Wait()
	return nil
}

// Start is Run on a timer: it returns at once, and between checks no
// goroutine waits.
func (w *ExpiryWatcher) Start(ctx context.Context) *periodic.Loop {
	every := min(rotationPoll, w.opts.Interval)
	var seen *Bundle
	due := time.Now() // of the next check by Interval: the first is at once
	return periodic.Start(ctx, 0, func(ctx context.Context) (time.Duration, bool) {
		cur := w.src.Current()
		now := time.Now()
		byInterval := !now.Before(due)
		if byInterval {
			due = periodic.NextTick(due, now, w.opts.Interval)
		}
		if byInterval || cur != seen {
			seen = cur
			w.Check(ctx)
		}
		return min(every, time.Until(due)), true
	})
}

// Check logs every certificate that is not LevelOK and returns all statuses.
// Each record carries cert, file, not_after, cert_days_left and, for
// expiring and expired ones, message_id (logging.MsgCertExpiring or
// logging.MsgCertExpired).
func (w *ExpiryWatcher) Check(ctx context.Context) []CertStatus {
	statuses := w.Statuses()
	for _, st := range statuses {
		w.log(ctx, st)
	}
	return statuses
}

// Statuses returns the status of each certificate now, without logging.
func (w *ExpiryWatcher) Statuses() []CertStatus {
	now := w.opts.Now()
	b := w.src.Current()
	var out []CertStatus
	out = append(out, w.status("client", b.CertFile, b.Leaf(), now))
	for _, c := range b.Chain[1 : len(b.Chain)-1] {
		out = append(out, w.status("intermediate", b.CertFile, c, now))
	}
	for _, c := range b.CA {
		out = append(out, w.status("ca", b.CAFile, c, now))
	}
	w.mu.Lock()
	broker := w.broker
	w.mu.Unlock()
	if broker != nil {
		out = append(out, w.status("broker", "", broker, now))
	}
	return out
}

// DaysLeft returns the fewest days left over all certificates (client, its
// chain, CA, broker); ok is false when there is none, which cannot happen
// with a loaded bundle.
func (w *ExpiryWatcher) DaysLeft() (days int, ok bool) {
	for i, st := range w.Statuses() {
		if i == 0 || st.DaysLeft < days {
			days, ok = st.DaysLeft, true
		}
	}
	return days, ok
}

func (w *ExpiryWatcher) status(which, file string, c *x509.Certificate, now time.Time) CertStatus {
	return CertStatus{
		Which:    which,
		File:     file,
		Subject:  c.Subject.String(),
		NotAfter: c.NotAfter,
		DaysLeft: DaysLeft(c, now),
		Level:    Grade(c, now, w.opts.WarnDays, w.opts.ErrorDays),
	}
}

// Grade rates c at now: LevelExpired after NotAfter, LevelNotYetValid before
// NotBefore, LevelError when at most errorDays×24 h are left, LevelWarning
// when at most warnDays×24 h are left, else LevelOK.
func Grade(c *x509.Certificate, now time.Time, warnDays, errorDays int) Level {
	left := c.NotAfter.Sub(now)
	switch {
	case now.After(c.NotAfter):
		return LevelExpired
	case now.Before(c.NotBefore):
		return LevelNotYetValid
	case left <= time.Duration(errorDays)*24*time.Hour:
		return LevelError
	case left <= time.Duration(warnDays)*24*time.Hour:
		return LevelWarning
	}
	return LevelOK
}

// daysLeftText is "3 days", "1 day" or "less than a day".
func daysLeftText(days int) string {
	switch days {
	case 0:
		return "less than a day"
	case 1:
		return "1 day"
	}
	return fmt.Sprintf("%d days", days)
}

func (w *ExpiryWatcher) log(ctx context.Context, st CertStatus) {
	var (
		level slog.Level
		msg   string
		id    string
	)
	switch st.Level {
	case LevelOK:
		return
	case LevelWarning:
		level, msg, id = slog.LevelWarn, fmt.Sprintf("%s expires soon (%s left)", describeWhich(st.Which), daysLeftText(st.DaysLeft)), logging.MsgCertExpiring
	case LevelError:
		level, msg, id = slog.LevelError, fmt.Sprintf("%s expires in %s: renew it now", describeWhich(st.Which), daysLeftText(st.DaysLeft)), logging.MsgCertExpiring
	case LevelExpired:
		level, msg, id = slog.LevelError, describeWhich(st.Which)+" has expired: the broker refuses it until it is renewed", logging.MsgCertExpired
	case LevelNotYetValid:
		level, msg = slog.LevelError, describeWhich(st.Which)+" is not valid yet: is the clock set (NTP)?"
	}
	if st.Which == "broker" && st.Level != LevelNotYetValid {
		msg += " (renew server.crt on the broker)"
	}
	attrs := []slog.Attr{
		slog.String("cert", st.Which),
		slog.String("file", st.File),
		slog.String("subject", st.Subject),
		slog.Time("not_after", st.NotAfter),
		slog.Int("cert_days_left", st.DaysLeft),
	}
	if id != "" {
		attrs = append(attrs, logging.MessageID(id))
	}
	w.opts.Logger.LogAttrs(ctx, level, msg, attrs...)
}
