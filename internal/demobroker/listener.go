package demobroker

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// connectTimeout bounds the TLS handshake and the wait for CONNECT. Mochi
// sets no deadline before CONNECT, so without one a silent peer would hold a
// goroutine, and Close, forever.
const connectTimeout = 10 * time.Second

// tlsListener is a mochi listener that completes the TLS handshake before
// handing a connection to mochi, so a refused certificate is logged clearly
// and Close can end connections mochi does not know yet.
type tlsListener struct {
	ln  net.Listener
	tls *tls.Config
	log *slog.Logger

	serving sync.WaitGroup // the accept loop and every connection's goroutine

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// newTLSListener listens on addr right away, so that Start reports a busy
// port and Addr knows the port before mochi serves.
func newTLSListener(addr string, cfg *tls.Config, log *slog.Logger) (*tlsListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &tlsListener{ln: ln, tls: cfg, log: log, conns: make(map[net.Conn]struct{})}
	l.serving.Add(1) // for Serve, which mochi starts in a goroutine of its own
	return l, nil
}

func (l *tlsListener) ID() string              { return "demo-tls" }
func (l *tlsListener) Address() string         { return l.ln.Addr().String() }
func (l *tlsListener) Protocol() string        { return "tcp+tls" }
func (l *tlsListener) Init(*slog.Logger) error { return nil }

// Serve accepts connections until Close.
func (l *tlsListener) Serve(establish listeners.EstablishFn) {
	defer l.serving.Done()
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		if !l.track(raw) {
			raw.Close()
			return
		}
		go func() {
			defer l.serving.Done()
			defer l.untrack(raw)
			l.serveConn(raw, establish)
		}()
	}
}

// serveConn completes the handshake, then gives the connection to mochi for
// its lifetime.
func (l *tlsListener) serveConn(raw net.Conn, establish listeners.EstablishFn) {
	log := l.log.With("remote", raw.RemoteAddr().String())
	_ = raw.SetDeadline(time.Now().Add(connectTimeout)) // mochi replaces it after CONNECT
	conn := tls.Server(raw, l.tls)
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	err := conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		log.Warn("demo broker refused a TLS connection", "error", err)
		conn.Close()
		return
	}
	if err := establish(l.ID(), conn); err != nil {
		log.Debug("demo broker client ended", "error", err)
	}
}

// track records a new connection unless the listener is closing, in which
// case it reports false.
func (l *tlsListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	l.serving.Add(1)
	return true
}

func (l *tlsListener) untrack(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

// Close stops accepting, lets mochi disconnect the clients it knows, and
// closes every connection still open, including those mochi does not know
// yet because they are still in the handshake or before CONNECT.
func (l *tlsListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	l.mu.Unlock()
	if already {
		return
	}
	_ = l.ln.Close()
	closeClients(l.ID())

	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		_ = c.Close()
	}
}

// wait blocks until the accept loop and every connection's goroutine have
// ended.
func (l *tlsListener) wait() { l.serving.Wait() }
