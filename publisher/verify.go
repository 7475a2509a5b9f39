package publisher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/periodic"
)

// VerifyMode says what the publisher does while the broker does not route
// this device's publishes: Mosquitto answers a publish that its ACL denies
// (MQTT 3.1.1) with a normal PUBACK and throws the message away, so a
// PUBACK alone does not prove delivery.
type VerifyMode string

// Verify modes.
const (
	// VerifyHold keeps readings in the outbox while delivery is not
	// confirmed, and sends them once it is.
	VerifyHold VerifyMode = "hold"
	// VerifyWarn sends readings anyway and counts them as unconfirmed.
	VerifyWarn VerifyMode = "warn"
	// VerifyOff does not check.
	VerifyOff VerifyMode = "off"
)

// Delivery states in Status.Delivery.
const (
	DeliveryUnchecked   = "unchecked"
	DeliveryConfirmed   = "confirmed"
	DeliveryUnconfirmed = "unconfirmed"
	DeliveryOff         = "off"
)

// Defaults of the delivery check.
const (
	DefaultVerifyEvery  = 10 * time.Minute
	DefaultProbeTimeout = 5 * time.Second
	// probeRetry is how soon a failed check is repeated: a fixed ACL (and a
	// reloaded Mosquitto) is noticed within it.
	probeRetry = 5 * time.Second
)

// ACLLine is the broker ACL rule that routes a device's topics back to it.
const ACLLine = "pattern readwrite %u/#"

// ErrNotRouted is the result of a probe that the broker acknowledged but did
// not deliver back.
var ErrNotRouted = errors.New("the broker acknowledged the probe but did not deliver it back")

// ProbeTopic is the topic of the delivery probe, inside the device's tree.
func ProbeTopic(device string) string { return device + "/edgepub/probe" }

// deliveryGate is the Gate of one connection: open while the broker is
// known to route this device's publishes.
type deliveryGate struct {
	mu      sync.Mutex
	ok      bool
	changed chan struct{}
}

func newDeliveryGate() *deliveryGate { return &deliveryGate{changed: make(chan struct{})} }

// Open reports whether delivery is confirmed and a channel closed when that
// changes.
func (g *deliveryGate) Open() (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ok, g.changed
}

func (g *deliveryGate) set(ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ok != ok {
		g.ok = ok
		close(g.changed)
		g.changed = make(chan struct{})
	}
}

// verifyLoop checks after connect and then every VerifyEvery (every
// probeRetry while it fails) that the broker routes this device's
// publishes: it subscribes to ProbeTopic and sees its own probe come back.
// Between checks it holds a timer, not a goroutine. It ends when the
// connection is lost or ctx is done.
func (p *Publisher) verifyLoop(ctx context.Context, conn *connection, gate *deliveryGate) *periodic.Loop {
	topic := ProbeTopic(p.opts.ClientID)
	back := make(chan string, 4)
	var subscribed bool
	return periodic.Start(ctx, 0, func(ctx context.Context) (time.Duration, bool) {
		if isLost(conn) {
			return 0, false
		}
		var err error
		if !subscribed {
			err = p.subscribeProbe(ctx, conn, topic, back)
			subscribed = err == nil
		}
		if err == nil {
			err = p.probe(ctx, conn, topic, back)
		}
		if ctx.Err() != nil || isLost(conn) {
			return 0, false
		}
		gate.set(err == nil) // before the status says so, so nothing slips out
		p.deliveryChecked(err)
		if err != nil {
			return probeRetry, true
		}
		return p.opts.VerifyEvery, true
	})
}

func (p *Publisher) subscribeProbe(ctx context.Context, conn *connection, topic string, back chan<- string) error {
	tok, err := waitToken(ctx, conn, p.opts.ProbeTimeout, func() mqtt.Token {
		return conn.client.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
			select {
			case back <- string(m.Payload()):
			default:
			}
		})
	})
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", topic, err)
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok && st.Result()[topic] == 0x80 {
		return fmt.Errorf("the broker refused the subscription to %s", topic)
	}
	return nil
}

// probe publishes a fresh nonce and waits for it to come back.
func (p *Publisher) probe(ctx context.Context, conn *connection, topic string, back <-chan string) error {
	var b [8]byte
	rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	if _, err := waitToken(ctx, conn, p.opts.ProbeTimeout, func() mqtt.Token { return conn.client.Publish(topic, 1, false, nonce) }); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	t := time.NewTimer(p.opts.ProbeTimeout)
	defer t.Stop()
	for {
		select {
		case got := <-back:
			if got == nonce {
				return nil
			}
		case <-t.C:
			return ErrNotRouted
		case <-conn.lost:
			return errConnectionLost
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deliveryChecked records a check's result: one ERROR when delivery stops
// being confirmed, one INFO when it is confirmed again.
func (p *Publisher) deliveryChecked(err error) {
	p.mu.Lock()
	was := p.status.Delivery
	if err == nil {
		p.status.Delivery, p.status.DeliveryError = DeliveryConfirmed, ""
	} else {
		p.status.Delivery, p.status.DeliveryError = DeliveryUnconfirmed, DeliveryProblem(p.opts.VerifyDelivery)
	}
	reported := p.deliveryReported
	p.deliveryReported = err != nil
	p.mu.Unlock()
	switch {
	case err != nil && !reported:
		p.log.Error(DeliveryProblem(p.opts.VerifyDelivery), "probe_topic", ProbeTopic(p.opts.ClientID), "error", err.Error(),
			"acl_line", ACLLine, logging.MessageID(logging.MsgDeliveryUnconfirmed))
	case err == nil && was == DeliveryUnconfirmed:
		p.log.Info("the broker routes this device's publishes again: delivery confirmed", "probe_topic", ProbeTopic(p.opts.ClientID))
	}
}

// DeliveryProblem is the one-line explanation of an unconfirmed delivery,
// for the log, the health message, STATUS= and check.
func DeliveryProblem(mode VerifyMode) string {
	what := "readings are held in the outbox until it does"
	if mode == VerifyWarn {
		what = "readings are sent anyway and counted as unconfirmed"
	}
	return "the broker does not deliver this device's publishes back to it, so it may be dropping them (Mosquitto acknowledges a publish its ACL denies and discards it): add `" + ACLLine + "` to the broker's acl_file and reload Mosquitto (systemctl reload mosquitto); if the ACL lets this device write but deliberately not read its topics, set broker.verify_delivery: warn; " + what
}

func waitToken(ctx context.Context, conn *connection, timeout time.Duration, call func() mqtt.Token) (mqtt.Token, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	// The call runs aside: paho's Publish and Subscribe themselves wait up
	// to the write timeout for paho's writer, which a dying connection may
	// never free, and a stop must not wait for that.
	made := make(chan mqtt.Token, 1)
	go func() { made <- call() }()
	var tok mqtt.Token
	var answered <-chan struct{}
	for {
		select {
		case tok = <-made:
			made, answered = nil, tok.Done()
		case <-answered:
			return tok, tok.Error()
		case <-t.C:
			return nil, fmt.Errorf("no answer within %v", timeout)
		case <-conn.lost:
			return nil, errConnectionLost
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func isLost(conn *connection) bool {
	select {
	case <-conn.lost:
		return true
	default:
		return false
	}
}
