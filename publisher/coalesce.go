package publisher

import (
	"net"
	"sync"
	"time"
)

// maxCoalesce bounds the bytes held back for one write: one full TLS record.
const maxCoalesce = 16 << 10

// coalescingConn is the connection paho writes to. paho writes every packet
// with its own Write, which over TLS is a record and a syscall each; while
// serve has more publishes on their way to paho (expect), their packets are
// gathered and go out together with the last one. Nothing is held back when
// nothing more is announced: a lone reading, a ping or a status publish is
// written at once.
//
// paho sets a write deadline before every packet and clears it after; here
// the deadline of the packet that sends applies to the write that sends, so
// the connection's timer moves twice per write, not twice per packet.
type coalescingConn struct {
	net.Conn

	mu sync.Mutex
	// announced counts the packets serve handed to paho that were not
	// written yet.
	announced int
	buf       []byte
	// deadline is the write deadline paho set last.
	deadline time.Time
}

func newCoalescingConn(c net.Conn) *coalescingConn { return &coalescingConn{Conn: c} }

// expect announces n packets that paho will write soon; the writes before
// the last of them are held back. Call it before handing them to paho.
func (c *coalescingConn) expect(n int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.announced += n
}

// cancel withdraws n announced packets that paho will not write (Publish
// failed at once), and sends what was held back for them.
func (c *coalescingConn) cancel(n int) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.announced = max(0, c.announced-n)
	if c.announced > 0 || len(c.buf) == 0 {
		return nil
	}
	return c.flushLocked(nil)
}

// Write holds p back while more announced packets are on their way, and
// otherwise writes it with whatever was held back. Every write counts
// against the announced packets, so a packet serve did not announce (a
// ping, a status publish) can only make a flush come early, never late.
func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.announced = max(0, c.announced-1)
	if c.announced > 0 && len(c.buf)+len(p) <= maxCoalesce {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	if err := c.flushLocked(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SetWriteDeadline applies to the packets written from now on.
func (c *coalescingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return nil
}

// SetDeadline applies to reads at once and to the packets written from now
// on.
func (c *coalescingConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetReadDeadline(t)
}

// flushLocked writes what was held back and then p, in one write when there
// is both. A failed write loses what was held back with the connection:
// those publishes have no PUBACK and are sent again on the next one.
func (c *coalescingConn) flushLocked(p []byte) error {
	if !c.deadline.IsZero() {
		if err := c.Conn.SetWriteDeadline(c.deadline); err != nil {
			return err
		}
		// Cleared as paho would: TLS writes by itself, e.g. a key update.
		defer c.Conn.SetWriteDeadline(time.Time{})
	}
	out := p
	if len(c.buf) > 0 {
		out = append(c.buf, p...)
		c.buf = c.buf[:0]
	}
	_, err := c.Conn.Write(out)
	return err
}
