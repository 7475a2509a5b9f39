package publisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/message"
)

// inflight is a publish awaiting its PUBACK.
type inflight struct {
	seq uint64
	tok mqtt.Token
	// topic and payload are kept after the publish for the debug log only.
	topic   string
	payload []byte
}

// debugAckedPerSecond is how many acknowledged readings per second
// --log-level debug shows; the rest are counted.
const debugAckedPerSecond = 10

// errConnectionLost is reported when paho gives no reason.
var errConnectionLost = errors.New("connection lost")

// serve delivers the outbox over one connection until it is lost or ctx is
// done. It keeps at most InFlight publishes outstanding and waits on the
// oldest (a sliding window: waiting on batches stalls on delayed ACKs), acks
// a record only when its own token completed without error, and after a
// reconnect starts again from the oldest unacknowledged record, so a
// reading is duplicated only across a connection loss.
//
// delivery, if set (broker.verify_delivery: hold), holds readings back like
// Opts.Gate while the broker is not known to route this device's publishes.
func (p *Publisher) serve(ctx context.Context, conn *connection, delivery Gate) error {
	var (
		// window and sends grow with use, not to InFlight at once: most
		// devices have one or two readings out at a time, and a fleet of
		// thousands in one process would carry the rest for nothing.
		window []inflight
		sends  []inflight
		cursor uint64 // highest seq handed to paho on this connection
		// drainTo is the newest seq queued at connect: once it is acked,
		// the backlog is delivered, however fast new readings arrive.
		drainTo uint64
		drained int
		start   = time.Now()
	)
	if b := p.queue.Backlog(); b.Readings > 0 {
		drainTo = b.LastSeq
	}
	debug := p.log.Enabled(ctx, slog.LevelDebug)
	for {
		open, gateChanged, deliveryChanged := true, (<-chan struct{})(nil), (<-chan struct{})(nil)
		if p.opts.Gate != nil {
			open, gateChanged = p.opts.Gate.Open()
		}
		if delivery != nil {
			var routed bool
			routed, deliveryChanged = delivery.Open()
			open = open && routed
		}
		if room := p.opts.InFlight - len(window); room > 0 && open {
			recs, err := p.queue.Pending(cursor, room)
			if err != nil {
				p.log.Error("cannot read the outbox; retrying in 1s", "error", err)
				if !sleepOrLost(ctx, conn, time.Second) {
					return p.endReason(ctx, conn)
				}
				continue
			}
			// All of them are announced before the first goes to paho, so
			// that their packets leave in one write.
			sends = sends[:0]
			for _, rec := range recs {
				cursor = rec.Seq
				f, err := message.Unframe(rec.Payload)
				if err != nil {
					p.log.Error("dropping an outbox record that is not a message", "seq", rec.Seq, "error", err)
					p.queue.Ack(rec.Seq)
					continue
				}
				payload := f.Payload
				if p.opts.Stamp != nil {
					payload = p.opts.Stamp(f)
				}
				sends = append(sends, inflight{seq: rec.Seq, topic: f.Topic, payload: payload})
			}
			conn.out.expect(len(sends))
			for _, in := range sends {
				in.tok = conn.client.Publish(in.topic, 1, false, in.payload)
				if isDone(in.tok) && in.tok.Error() != nil {
					// paho refused it at once (not connected): nothing of it
					// will be written, and the connection is going anyway.
					conn.out.cancel(1)
				}
				if !debug {
					in.topic, in.payload = "", nil
				}
				window = append(window, in)
			}
			clear(sends) // holds the outbox's read buffer otherwise
		}
		var notify <-chan struct{}
		if open {
			notify = p.queue.Notify()
		}
		if len(window) == 0 {
			select {
			case <-notify:
				continue
			case <-gateChanged:
				continue
			case <-deliveryChanged:
				continue
			case <-conn.lost:
				return p.endReason(ctx, conn)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(window) == p.opts.InFlight {
			notify = nil
		}
		select {
		case <-window[0].tok.Done():
		case <-notify:
			continue
		case <-gateChanged:
			continue
		case <-deliveryChanged:
			continue
		case <-conn.lost:
			return p.endReason(ctx, conn)
		case <-ctx.Done():
			return ctx.Err()
		}
		// Ack every publish that completed, oldest first. The rest move to
		// the front, so the window's array is reused, not grown again.
		acked := 0
		for ; acked < len(window) && isDone(window[acked].tok); acked++ {
			in := window[acked]
			if err := in.tok.Error(); err != nil {
				return fmt.Errorf("publish of seq %d failed: %w", in.seq, err)
			}
			seq := in.seq
			p.queue.Ack(seq)
			if debug {
				p.logAcked(in)
			}
			drained++
			p.setStatus(func(s *Status) {
				s.Delivered++
				if s.Delivery == DeliveryUnconfirmed {
					s.Unconfirmed++ // verify_delivery: warn
				}
			})
			if drainTo != 0 && seq >= drainTo {
				drainTo = 0
				p.log.Info("backlog delivered", "readings", drained, "took", time.Now().Sub(start).Round(time.Millisecond).String(), logging.MessageID(logging.MsgDrainFinished))
			}
		}
		window = slices.Delete(window, 0, acked)
	}
}

// logAcked shows an acknowledged reading at debug level: its sensor (the
// topic's last level), seq and the published JSON.
func (p *Publisher) logAcked(in inflight) {
	if ok, held := p.debugAcked.Allow(time.Now()); ok {
		sensor := in.topic[strings.LastIndexByte(in.topic, '/')+1:]
		p.log.Debug("reading acknowledged", "sensor", sensor, "seq", in.seq, "topic", in.topic, "payload", string(in.payload), "not_logged", held)
	}
}

func isDone(t mqtt.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

func (p *Publisher) endReason(ctx context.Context, conn *connection) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	select {
	case <-conn.lost:
		if conn.lostErr != nil {
			return conn.lostErr
		}
		return errConnectionLost
	default:
		return nil
	}
}

func sleepOrLost(ctx context.Context, conn *connection, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-conn.lost:
	case <-ctx.Done():
	}
	return false
}
