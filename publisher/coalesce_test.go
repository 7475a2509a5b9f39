package publisher

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/message"
	"github.com/edgepub/edgepub/outbox"
	"github.com/edgepub/edgepub/sensors"
)

// recordingConn keeps every Write it gets, as the TLS connection would
// send each as one record.
type recordingConn struct {
	net.Conn
	writes [][]byte
	err    error
}

func (r *recordingConn) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func writePacket(t *testing.T, c *coalescingConn, p string) {
	t.Helper()
	if n, err := c.Write([]byte(p)); err != nil || n != len(p) {
		t.Fatalf("Write(%q) = %d, %v", p, n, err)
	}
}

func wantWrites(t *testing.T, r *recordingConn, want ...string) {
	t.Helper()
	got := make([]string, len(r.writes))
	for i, w := range r.writes {
		got[i] = string(w)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("underlying writes %q, want %q", got, want)
	}
}

func TestLoneWriteGoesOutAtOnce(t *testing.T) {
	r := &recordingConn{}
	c := newCoalescingConn(r)
	writePacket(t, c, "ping")
	wantWrites(t, r, "ping")
	c.expect(1)
	writePacket(t, c, "reading")
	wantWrites(t, r, "ping", "reading")
}

func TestAnnouncedPacketsLeaveInOneWrite(t *testing.T) {
	r := &recordingConn{}
	c := newCoalescingConn(r)
	c.expect(3)
	writePacket(t, c, "a")
	writePacket(t, c, "b")
	wantWrites(t, r)
	writePacket(t, c, "c")
	wantWrites(t, r, "abc")
	writePacket(t, c, "d") // nothing announced any more
	wantWrites(t, r, "abc", "d")
}

// A packet serve did not announce (a ping, a status publish) written
// meanwhile counts against the announced ones: the batch goes out one
// packet early, and its last packet alone, but nothing waits.
func TestUnannouncedWriteOnlyFlushesEarly(t *testing.T) {
	r := &recordingConn{}
	c := newCoalescingConn(r)
	c.expect(2)
	writePacket(t, c, "ping")
	writePacket(t, c, "a")
	wantWrites(t, r, "pinga")
	writePacket(t, c, "b")
	wantWrites(t, r, "pinga", "b")
}

func TestCancelSendsWhatWasHeldBack(t *testing.T) {
	r := &recordingConn{}
	c := newCoalescingConn(r)
	c.expect(3)
	writePacket(t, c, "a")
	if err := c.cancel(1); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, r)
	if err := c.cancel(1); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, r, "a")
	if err := c.cancel(5); err != nil { // more than announced: nothing to do
		t.Fatal(err)
	}
	writePacket(t, c, "b")
	wantWrites(t, r, "a", "b")
}

func TestHeldBackBytesAreBounded(t *testing.T) {
	r := &recordingConn{}
	c := newCoalescingConn(r)
	c.expect(100)
	packet := string(bytes.Repeat([]byte("x"), maxCoalesce/4))
	for range 5 {
		writePacket(t, c, packet)
	}
	if len(r.writes) != 1 || len(r.writes[0]) != 5*len(packet) {
		t.Fatalf("after 5 packets of %d bytes: writes of %v bytes, want one of all 5", len(packet), lens(r.writes))
	}
}

func TestWriteErrorReachesPaho(t *testing.T) {
	broken := errors.New("connection reset by peer")
	r := &recordingConn{}
	c := newCoalescingConn(r)
	c.expect(2)
	writePacket(t, c, "a")
	r.err = broken
	if _, err := c.Write([]byte("b")); !errors.Is(err, broken) {
		t.Fatalf("Write on a broken connection: %v, want %v", err, broken)
	}
	if _, err := c.Write([]byte("c")); !errors.Is(err, broken) {
		t.Fatalf("unannounced Write on a broken connection: %v, want %v", err, broken)
	}
	c.expect(2)
	writePacket(t, c, "d") // held back: the error shows on the write that sends
	if err := c.cancel(1); !errors.Is(err, broken) {
		t.Fatalf("cancel's flush on a broken connection: %v, want %v", err, broken)
	}
}

// paho's deadline for the packet that sends bounds the write that sends,
// and is cleared after it as paho would.
func TestWriteDeadlineBoundsTheWriteThatSends(t *testing.T) {
	local, remote := net.Pipe()
	defer remote.Close()
	c := newCoalescingConn(local)
	c.expect(2)
	c.SetWriteDeadline(time.Now().Add(-time.Second)) // held back: no write yet
	writePacket(t, c, "a")
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	written := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte("b"))
		written <- err
	}()
	select {
	case err := <-written:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write nobody reads, past its deadline: %v, want %v", err, os.ErrDeadlineExceeded)
		}
	case <-time.After(5 * time.Second): // a guard against hanging, not a measure
		local.Close()
		t.Fatal("a write nobody reads still blocks 5s after its deadline")
	}
	c.SetWriteDeadline(time.Time{})
	got := make(chan []byte)
	go func() {
		b := make([]byte, 1)
		io.ReadFull(remote, b)
		got <- b
	}()
	writePacket(t, c, "c")
	if b := <-got; string(b) != "c" {
		t.Fatalf("read %q, want c", b)
	}
}

func lens(ws [][]byte) []int {
	out := make([]int, len(ws))
	for i, w := range ws {
		out[i] = len(w)
	}
	return out
}

// A backlog goes to a real broker in a few TLS records instead of one per
// reading, a record that is not a message does not hold the rest back, and
// a lone reading afterwards goes out by itself.
func TestBacklogLeavesInFewRecords(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	broker := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := broker.Subscribe(t, "Kai/sensors/#", mosquittotest.SubOpts{})
	counter := countRecords(t, "127.0.0.1:"+strconv.Itoa(broker.Port()))
	src := loadSource(t, pki.DeviceDir(t, "Kai"))

	const backlog = 64
	q := newMemQueue()
	add := func(seq int) {
		r := sensors.Reading{Sensor: "env", Time: time.Now(), Values: sensors.Values{"temperature_c": 20 + float64(seq)/10}}
		payload, err := message.Encode("Kai", uint64(seq), r)
		if err != nil {
			t.Fatal(err)
		}
		q.add(message.Topic("Kai", "env"), payload)
	}
	for seq := 1; seq <= backlog; seq++ {
		if seq == backlog/2 {
			q.mu.Lock()
			q.recs = append(q.recs, outbox.Record{Seq: uint64(seq), Payload: []byte("not a framed message")})
			q.mu.Unlock()
			continue
		}
		add(seq)
	}
	opts := testOpts(t, "ssl://"+counter.addr, src)
	opts.InFlight, opts.VerifyDelivery, opts.StatusTopic = backlog, VerifyOff, ""
	opts.KeepAlive = time.Minute // no ping to send a held-back packet by chance
	stop := start(t, New(q, opts))
	defer stop()

	sub.WaitFor(10*time.Second, "the backlog", func(m []mosquittotest.Message) bool { return len(m) >= backlog-1 })
	testutil.Eventually(t, 10*time.Second, "backlog acknowledged", func() bool { return q.unacked() == 0 })
	// One record per reading would be 63 besides the handshake and CONNECT.
	if n := counter.records.Load(); n >= backlog/2 {
		t.Errorf("%d readings took %d TLS records from the client, want far fewer", backlog-1, n)
	}

	add(backlog + 1)
	sub.WaitFor(10*time.Second, "a lone reading after the backlog", func(m []mosquittotest.Message) bool { return len(m) >= backlog })
}

// recordCounter forwards connections to a broker and counts the TLS
// application data records the clients send.
type recordCounter struct {
	addr    string
	records atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
}

func countRecords(t *testing.T, broker string) *recordCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &recordCounter{addr: ln.Addr().String()}
	t.Cleanup(func() {
		ln.Close()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, conn := range c.conns {
			conn.Close()
		}
	})
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", broker)
			if err != nil {
				client.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, client, server)
			c.mu.Unlock()
			go io.Copy(client, server)
			go c.forward(server, client)
		}
	}()
	return c
}

// forward copies record by record: a 5-byte header (type 23 is
// application data; under TLS 1.3 also the end of the handshake) and its
// body.
func (c *recordCounter) forward(dst io.Writer, src io.Reader) {
	header := make([]byte, 5)
	for {
		if _, err := io.ReadFull(src, header); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint16(header[3:]))
		if _, err := io.ReadFull(src, body); err != nil {
			return
		}
		if header[0] == 23 {
			c.records.Add(1)
		}
		if _, err := dst.Write(append(header, body...)); err != nil {
			return
		}
	}
}
