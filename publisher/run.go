package publisher

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/internal/logging"
)

// stableAfter is how long a connection must last before the backoff starts
// again from BackoffMin: a broker that accepts and then drops every
// connection at once must not be hammered.
const stableAfter = 10 * time.Second

// Run connects and delivers until ctx is done. It never gives up: a broker
// that is down at start, refuses us or goes away is retried with jittered
// exponential backoff, moving to the next configured broker on each
// failure. On return, a clean "offline" status was published if possible.
func (p *Publisher) Run(ctx context.Context) error {
	if p.opts.StartJitter > 0 && !sleep(ctx, time.Duration(p.opts.Rand.Int64N(int64(p.opts.StartJitter)))) {
		return nil
	}
	attempt := 0
	fails := map[string]*failureLog{} // by broker URL: each fails its own way
	for i := 0; ; i++ {
		brokerURL := p.opts.URLs[i%len(p.opts.URLs)]
		p.setStatus(func(s *Status) { s.Broker = brokerURL })
		conn, err := p.dial(ctx, brokerURL)
		if ctx.Err() != nil {
			return nil
		}
		var started time.Time
		if err == nil {
			started = time.Now()
			clear(fails)
			p.connected(conn)
			err = p.serveVerified(ctx, conn)
			p.setConn(nil)
			if ctx.Err() != nil {
				p.closeCleanly(conn)
				return nil
			}
			conn.client.Disconnect(0)
			lived := time.Since(started)
			if lived >= stableAfter {
				attempt = 0
			}
			if p.takeover.lost(lived, err) {
				p.identityInUse(brokerURL)
			}
		}
		delay := p.backoff(attempt)
		attempt++
		if fails[brokerURL] == nil {
			fails[brokerURL] = &failureLog{}
		}
		p.disconnected(brokerURL, err, delay, !started.IsZero(), fails[brokerURL])
		if !sleep(ctx, delay) {
			return nil
		}
	}
}

// backoff draws the delay before attempt n (0-based) uniformly from
// [BackoffMin, min(BackoffMax, BackoffMin·2ⁿ⁺¹)]: exponential growth with
// full jitter over the window, never below the minimum, so a fleet that lost
// its broker together spreads its reconnects out.
func (p *Publisher) backoff(n int) time.Duration {
	// Even the first window is [min, 2·min]: a fleet that lost its broker
	// together must not all come back at the same instant.
	lo, hi := p.opts.BackoffMin, p.opts.BackoffMin
	for range min(n+1, 30) {
		hi *= 2
		if hi >= p.opts.BackoffMax {
			break
		}
	}
	hi = min(hi, p.opts.BackoffMax)
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(p.opts.Rand.Int64N(int64(hi-lo)+1))
}

func (p *Publisher) connected(conn *connection) {
	now := time.Now()
	p.setConn(conn)
	p.mu.Lock()
	if p.everConnected {
		p.status.Reconnects++
	}
	p.everConnected = true
	p.status.Connected, p.status.Broker, p.status.Since, p.status.RetryAt = true, conn.url, now, time.Time{}
	p.mu.Unlock()
	attrs := []any{"broker", conn.url, logging.MessageID(logging.MsgConnected)}
	b := p.queue.Backlog()
	attrs = append(attrs, "backlog", b.Readings)
	if b.Readings > 0 {
		attrs = append(attrs, "oldest_age", now.Sub(b.Oldest).Round(time.Second).String())
	}
	p.log.Info("connected to broker", attrs...)
	if p.opts.StatusTopic != "" {
		conn.client.Publish(p.opts.StatusTopic, 1, true, []byte("online"))
	}
	if p.opts.OnConnect != nil {
		p.opts.OnConnect()
	}
}

// failureLogEvery is how often a connect attempt that keeps failing the same
// way is logged again.
const failureLogEvery = time.Minute

// failureLog keeps a connect attempt that fails the same way from filling
// the log: its first failure is logged, then "still failing" at most once
// every failureLogEvery. A different error is logged at once.
type failureLog struct {
	attempts int
	reason   string
	logged   time.Time
}

// message returns what to log about one more failed attempt, if anything.
func (f *failureLog) message(reason string, now time.Time) (string, bool) {
	if f.attempts == 0 || reason != f.reason {
		*f = failureLog{attempts: 1, reason: reason, logged: now}
		return "cannot connect to broker; retrying", true
	}
	f.attempts++
	if now.Sub(f.logged) < failureLogEvery {
		return "", false
	}
	f.logged = now
	return fmt.Sprintf("cannot connect to broker: still failing (%d attempts, last error: %s)", f.attempts, reason), true
}

func (p *Publisher) disconnected(brokerURL string, err error, delay time.Duration, wasConnected bool, fails *failureLog) {
	now := time.Now()
	reason := "unknown"
	if err != nil {
		reason = err.Error()
	}
	p.setStatus(func(s *Status) {
		if s.Connected || s.Since.IsZero() {
			s.Since = now
		}
		s.Connected, s.LastError, s.RetryAt = false, reason, now.Add(delay)
	})
	attrs := []any{"broker", brokerURL, "error", reason, "retry_in", delay.Round(10 * time.Millisecond).String(), "backlog", p.queue.Backlog().Readings}
	if wasConnected {
		p.log.Warn("disconnected from broker; reconnecting", append(attrs, logging.MessageID(logging.MsgDisconnected))...)
	} else if msg, ok := fails.message(reason, now); ok {
		p.log.Warn(msg, attrs...)
	}
}

// identityInUse reports, once per episode, that another client keeps taking
// this device's connection.
func (p *Publisher) identityInUse(brokerURL string) {
	p.setStatus(func(s *Status) { s.IdentityConflicts++ })
	p.log.Error("another client uses this device's identity: the broker closed "+strconv.Itoa(takeoverAfter)+" connections in a row within seconds, as it does when a second client connects with the same client id; stop the other client (a cloned SD card, or a second edgepub with the same certificate) or give each device its own certificate, and set use_username_as_clientid true in mosquitto.conf",
		"broker", brokerURL, "client_id", p.opts.ClientID, logging.MessageID(logging.MsgIdentityInUse))
}

// closeCleanly says "offline" itself (a clean stop sends no last will) and
// disconnects, within about a second so shutdown stays under two.
func (p *Publisher) closeCleanly(conn *connection) {
	if p.opts.StatusTopic != "" {
		waitToken(context.Background(), conn, 700*time.Millisecond, func() mqtt.Token {
			return conn.client.Publish(p.opts.StatusTopic, 1, true, []byte("offline"))
		})
	}
	conn.client.Disconnect(200)
	p.setStatus(func(s *Status) { s.Connected, s.Since = false, time.Now() })
}

func (p *Publisher) setConn(c *connection) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conn = c
}

// Publish sends one message on the current connection outside the outbox,
// for state that is refreshed anyway (health, discovery): it is not queued
// while offline, and it waits for the PUBACK.
func (p *Publisher) Publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	p.mu.Lock()
	conn := p.conn
	p.mu.Unlock()
	if conn == nil {
		return ErrNotConnected
	}
	tok := conn.client.Publish(topic, 1, retained, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func hostOf(brokerURL string) string {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// serveVerified serves conn while verifyLoop checks, as broker.verify_delivery
// says, that the broker routes what is sent.
func (p *Publisher) serveVerified(ctx context.Context, conn *connection) error {
	if p.opts.VerifyDelivery == VerifyOff {
		return p.serve(ctx, conn, nil)
	}
	connCtx, cancel := context.WithCancel(ctx)
	gate := newDeliveryGate()
	verify := p.verifyLoop(connCtx, conn, gate)
	defer func() { cancel(); verify.Wait() }()
	if p.opts.VerifyDelivery == VerifyWarn {
		return p.serve(ctx, conn, nil) // sends anyway; serve counts unconfirmed acks
	}
	return p.serve(ctx, conn, gate)
}

var _ Gate = (*deliveryGate)(nil)
