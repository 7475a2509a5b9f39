// Package publisher carries readings from the outbox to the broker: one
// paho connection at a time over mutual TLS, its own reconnect loop with
// jittered backoff across the configured brokers, and a bounded window of
// QoS 1 publishes. A reading leaves the outbox only after the broker's PUBACK
// on the connection it was sent on; paho is never asked to buffer or resend
// (a resumed session completes old tokens without a PUBACK:
// eclipse/paho.mqtt.golang#458).
package publisher

import (
	"crypto/tls"
	"errors"
	"github.com/edgepub/edgepub/message"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/outbox"
)

// Queue is the durable outbox as the publisher uses it.
type Queue interface {
	// Pending returns up to max unacknowledged records after seq, oldest first.
	Pending(after uint64, max int) ([]outbox.Record, error)
	// Notify signals that records were added.
	Notify() <-chan struct{}
	// Ack removes a record the broker acknowledged.
	Ack(seq uint64)
	// Backlog says what the queue holds, for the logs and the drain.
	Backlog() outbox.Backlog
}

// Opts configures a Publisher.
type Opts struct {
	// URLs are the brokers, tried in turn (ssl://host:port).
	URLs []string
	// ClientID is the MQTT client id: the device id, unique per device.
	ClientID string
	// TLSConfig returns the TLS configuration that verifies the broker at host.
	TLSConfig func(host string) *tls.Config
	// KeepAlive is the MQTT keepalive; a dead connection is noticed within
	// about 1.5 times it.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connect attempt.
	ConnectTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay between connect attempts.
	BackoffMin, BackoffMax time.Duration
	// StartJitter delays the first connect by a random time up to it.
	StartJitter time.Duration
	// InFlight bounds the QoS 1 publishes awaiting their PUBACK.
	InFlight int
	// OnConnect, if set, is called after each new connection, on the
	// publisher's goroutine (it must not block), so that whoever keeps
	// retained state (health, discovery) can refresh it through Publish.
	OnConnect func()
	// StatusTopic, if set, gets a retained "online" on connect and
	// "offline" on a clean stop or, as the last will, when the connection
	// dies.
	StatusTopic string
	// Stamp, if set, gives the payload to send for a framed reading: the
	// clock's repair of readings taken before it was synced.
	Stamp func(message.Framed) []byte
	// Gate, if set, holds readings back while it is closed.
	Gate   Gate
	Logger *slog.Logger
	// Rand draws the jitter; tests make it deterministic.
	Rand *rand.Rand
	// VerifyDelivery says what happens while the broker does not route
	// this device's publishes back to it; default VerifyHold.
	VerifyDelivery VerifyMode
	// VerifyEvery is how often the routing is checked again on a
	// connection, after the check on connect; default 10 minutes.
	VerifyEvery time.Duration
	// ProbeTimeout bounds one check; default 5 s.
	ProbeTimeout time.Duration
}

// A Gate holds readings back while it is closed, e.g. for a while after
// boot until the clock is synced.
type Gate interface {
	// Open reports whether readings may go out now, and a channel that is
	// closed when that may have changed.
	Open() (bool, <-chan struct{})
}

// Publisher delivers the outbox to the broker.
type Publisher struct {
	opts  Opts
	queue Queue
	log   *slog.Logger

	// debugAcked rate-limits the debug record of each acknowledged reading.
	debugAcked *logging.Limiter

	mu            sync.Mutex
	status        Status
	everConnected bool
	takeover      takeoverWatch
	// deliveryReported is true while an unconfirmed delivery was logged.
	deliveryReported bool
	conn             *connection // the live connection, nil when offline
}

// Status is the publisher's state for the device status.
type Status struct {
	Connected bool `json:"connected"`
	// Broker is the URL connected to, or last tried.
	Broker string `json:"broker"`
	// Since is when the current state (connected or not) began.
	Since time.Time `json:"since"`
	// LastError says why the last connection ended or the last attempt failed.
	LastError string `json:"last_error,omitempty"`
	// RetryAt is when the next connect attempt is due, while offline.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Reconnects counts connections after the first.
	Reconnects uint64 `json:"reconnects"`
	// Delivered counts readings acknowledged by the broker since start.
	Delivered uint64 `json:"delivered"`
	// IdentityConflicts counts episodes in which another client took this
	// device's connection again and again (same client id).
	IdentityConflicts uint64 `json:"identity_conflicts"`
	// Delivery is DeliveryConfirmed once the broker was seen to route this
	// device's publishes back to it, DeliveryUnconfirmed when it did not,
	// DeliveryUnchecked before the first check, DeliveryOff when not checked.
	Delivery string `json:"delivery"`
	// DeliveryError explains an unconfirmed delivery and its fix.
	DeliveryError string `json:"delivery_error,omitempty"`
	// Unconfirmed counts readings acknowledged while delivery was not
	// confirmed (verify_delivery: warn).
	Unconfirmed uint64 `json:"unconfirmed"`
}

// ErrNotConnected is returned by Publish while there is no connection.
var ErrNotConnected = errors.New("not connected to the broker")

// New returns a Publisher; call Run to start it.
func New(q Queue, opts Opts) *Publisher {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if opts.InFlight < 1 {
		opts.InFlight = 1
	}
	if opts.VerifyDelivery == "" {
		opts.VerifyDelivery = VerifyHold
	}
	if opts.VerifyEvery <= 0 {
		opts.VerifyEvery = DefaultVerifyEvery
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = DefaultProbeTimeout
	}
	delivery := DeliveryUnchecked
	if opts.VerifyDelivery == VerifyOff {
		delivery = DeliveryOff
	}
	return &Publisher{opts: opts, queue: q, log: opts.Logger, status: Status{Since: time.Now(), Delivery: delivery},
		debugAcked: logging.NewLimiter(debugAckedPerSecond, time.Second)}
}

// Status returns the current state.
func (p *Publisher) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

func (p *Publisher) setStatus(f func(*Status)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.status)
}
