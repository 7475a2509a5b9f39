// Package renew renews the device's client certificate through the signer
// (`edgepub ca serve`) before it expires: a new key, a CSR on
// <CN>/certs/csr, the answer on <CN>/certs/issued, checks, a test
// connection with the new pair, then an atomic switch of the renewed
// folder that certs.Source prefers while it expires later than the
// configured pair. The configured files are never written, so this works
// with a read-only certificate folder (systemd's LoadCredential= copies).
package renew

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/internal/logging"
)

// Dir is where renewed pairs live under the state directory, which the
// service may write even when its certificate folder is a read-only copy
// (systemd's LoadCredential=).
func Dir(stateDir string) string { return filepath.Join(stateDir, "certs") }

// Opts configures a Renewer.
type Opts struct {
	Source *certs.Source
	// Dir is the renewed folder (a symlink the renewer swaps), e.g.
	// /var/lib/edgepub/certs; the Source must prefer it (PreferRenewed).
	Dir string
	// BrokerURLs are tried in turn for the exchange.
	BrokerURLs []string
	// Before is how long before expiry renewal starts; 0 means a third of
	// the certificate's lifetime.
	Before time.Duration
	// KeyType of the new key (ecdsa-p256, ecdsa-p384, rsa-2048, rsa-4096,
	// ed25519); empty means the kind of the current key.
	KeyType string
	// RetryMin and RetryMax bound the delay after a failed attempt, which
	// doubles from one failure to the next; defaults 30s and 1h.
	RetryMin, RetryMax time.Duration
	// AnswerTimeout is how long to wait for the signer; default 1 min.
	AnswerTimeout time.Duration
	// ConnectTimeout bounds each connection attempt; default 10s.
	ConnectTimeout time.Duration
	Logger         *slog.Logger
	Now            func() time.Time
}

// Status is the renewal state for health messages (cert_renewal).
type Status struct {
	// State is waiting (not due yet), renewing, failing or refused.
	State       string    `json:"state"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Renewals    int       `json:"renewals"`
	// Failures counts failed attempts since the last success.
	Failures    int       `json:"failures"`
	LastError   string    `json:"last_error,omitempty"`
	LastRenewed time.Time `json:"last_renewed,omitzero"`
	Serial      string    `json:"serial,omitempty"`
}

// Renewer renews the certificate of its Source.
type Renewer struct {
	opts Opts
	log  *slog.Logger

	mu     sync.Mutex
	status Status
}

// New returns a Renewer; Run starts it.
func New(o Opts) *Renewer {
	if o.RetryMin <= 0 {
		o.RetryMin = 30 * time.Second
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(o.RetryMin, time.Hour)
	}
	if o.AnswerTimeout <= 0 {
		o.AnswerTimeout = time.Minute
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Renewer{opts: o, log: o.Logger, status: Status{State: "waiting"}}
}

// Status returns the current renewal state.
func (r *Renewer) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *Renewer) update(f func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.status)
}

// Due is when renewal of the current certificate starts.
func (r *Renewer) Due() time.Time {
	leaf := r.opts.Source.Current().Leaf()
	before := r.opts.Before
	if before <= 0 {
		before = leaf.NotAfter.Sub(leaf.NotBefore) / 3
	}
	return leaf.NotAfter.Add(-before)
}

// refusal is an attempt the signer or the broker turned down.
type refusal struct{ reason, detail string }

func (e *refusal) Error() string { return e.reason + ": " + e.detail }

// Run renews whenever the certificate is due, until ctx is done. A failed
// attempt keeps the current pair and is retried with a growing delay.
func (r *Renewer) Run(ctx context.Context) {
	failures := 0
	var retryAt time.Time
	for {
		now := r.opts.Now()
		next := r.Due()
		if retryAt.After(next) {
			next = retryAt
		}
		if wait := next.Sub(now); wait > 0 {
			r.update(func(s *Status) { s.NextAttempt = next })
			// Re-check at least every minute: the Source may have
			// switched to another pair meanwhile.
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(wait, time.Minute)):
			}
			continue
		}
		r.update(func(s *Status) { s.State = "renewing"; s.NextAttempt = time.Time{} })
		err := r.attempt(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures, retryAt = 0, time.Time{}
			continue
		}
		failures++
		delay := r.backoff(failures)
		retryAt = r.opts.Now().Add(delay)
		leaf := r.opts.Source.Current().Leaf()
		attrs := []any{"serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter, "retry_in", delay.Round(time.Second), "attempt", failures}
		var ref *refusal
		state := "failing"
		if errors.As(err, &ref) {
			state = "refused"
			r.log.Warn("certificate renewal refused, keeping the current certificate: "+ref.detail, append(attrs, "reason", ref.reason, logging.MessageID(logging.MsgCertRenewalRefused))...)
		} else {
			r.log.Warn("certificate renewal did not complete, keeping the current certificate: "+err.Error(), append(attrs, "reason", "no_certificate", logging.MessageID(logging.MsgCertRenewalFailed))...)
		}
		r.update(func(s *Status) {
			s.State, s.Failures, s.LastError, s.NextAttempt = state, failures, err.Error(), retryAt
		})
	}
}

// backoff doubles from RetryMin up to RetryMax, drawn at random in the
// upper half so a fleet whose signer was down does not return at once.
func (r *Renewer) backoff(failures int) time.Duration {
	d := r.opts.RetryMin
	for i := 1; i < failures && d < r.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, r.opts.RetryMax)
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d/2)+1))
	if err != nil {
		return d
	}
	return d/2 + time.Duration(n.Int64())
}

// attempt runs one renewal.
func (r *Renewer) attempt(ctx context.Context) error {
	cur := r.opts.Source.Current()
	key, err := newKeyLike(cur.Leaf().PublicKey, r.opts.KeyType)
	if err != nil {
		return err
	}
	csr, err := makeCSR(cur.Identity, key)
	if err != nil {
		return err
	}
	chainPEM, err := r.exchange(ctx, cur, csr)
	if err != nil {
		return err
	}
	staged, err := r.stage(cur, key, chainPEM)
	if err != nil {
		return fmt.Errorf("the issued certificate does not check out: %w", err)
	}
	if err := r.probe(ctx, staged); err != nil {
		r.discard(staged)
		return &refusal{reason: "broker_refused", detail: fmt.Sprintf("the broker refused the new certificate (serial %s): %v", staged.Leaf().SerialNumber.Text(16), err)}
	}
	if err := r.promote(staged); err != nil {
		r.discard(staged)
		return err
	}
	now := r.opts.Now()
	if err := r.opts.Source.Reload(now); err != nil {
		r.log.Error("the renewed certificate was stored but not loaded", "error", err)
	}
	leaf := staged.Leaf()
	r.log.Info("client certificate renewed", "serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter,
		"previous_serial", cur.Leaf().SerialNumber.Text(16), "file", staged.CertFile, "reason", "due", logging.MessageID(logging.MsgCertRenewed))
	r.update(func(s *Status) {
		s.State, s.Failures, s.LastError = "waiting", 0, ""
		s.Renewals++
		s.LastRenewed, s.Serial = now, leaf.SerialNumber.Text(16)
	})
	return nil
}
