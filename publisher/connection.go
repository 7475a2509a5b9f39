package publisher

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// connection is one paho client for one connection. A new client is made
// for every connection, with auto-reconnect off and a clean session, so that
// every token belongs to exactly one connection and a token that completes
// without error proves a PUBACK on it (paho's resume can complete old
// tokens without one: eclipse/paho.mqtt.golang#458).
type connection struct {
	client mqtt.Client
	url    string
	// out is what paho writes to; nil when paho dialed itself (all_proxy).
	out *coalescingConn

	lostOnce sync.Once
	lost     chan struct{} // closed when paho reports the connection lost
	lostErr  error
}

func (c *connection) markLost(err error) {
	c.lostOnce.Do(func() {
		c.lostErr = err
		close(c.lost)
	})
}

func (p *Publisher) dial(ctx context.Context, brokerURL string) (*connection, error) {
	conn := &connection{url: brokerURL, lost: make(chan struct{})}
	o := mqtt.NewClientOptions().
		AddBroker(brokerURL).
		SetClientID(p.opts.ClientID).
		SetTLSConfig(p.opts.TLSConfig(hostOf(brokerURL))).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(pingEvery(p.opts.KeepAlive)).
		SetPingTimeout(p.opts.KeepAlive / 2).
		SetConnectTimeout(p.opts.ConnectTimeout).
		SetWriteTimeout(p.opts.ConnectTimeout).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { conn.markLost(err) })
	if os.Getenv("all_proxy") == "" { // else paho dials through the proxy itself
		o.SetCustomOpenConnectionFn(func(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
			tc, err := tls.DialWithDialer(o.Dialer, "tcp", uri.Host, o.TLSConfig)
			if err != nil {
				return nil, err
			}
			conn.out = newCoalescingConn(tc)
			return conn.out, nil
		})
	}
	if p.opts.StatusTopic != "" {
		o.SetBinaryWill(p.opts.StatusTopic, []byte("offline"), 1, true)
	}
	client := mqtt.NewClient(o)
	tok := client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// The attempt ends by itself within ConnectTimeout.
		go func() { tok.Wait(); client.Disconnect(0) }()
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		if notTLS := p.probeNotTLS(ctx, brokerURL, err); notTLS != nil {
			return nil, notTLS
		}
		if fix := Explain(err); fix != "" {
			return nil, fmt.Errorf("%w: %s", err, fix)
		}
		return nil, err
	}
	conn.client = client
	return conn, nil
}

// pingEvery is the keepalive paho runs with so that a dead connection (a
// frozen broker, a pulled cable) is noticed within 1.5 × keepalive. paho
// pings once nothing was received for its keepalive, checks only every
// keepalive/4 (every 5 s above 10 s) and gives up PingTimeout after the
// ping; with its keepalive at half ours (whole seconds) and PingTimeout at
// half ours, the worst case is k/2 + k/2 + two checks ≤ 1.5 k for any k of
// 5 s or more. The broker, told the shorter keepalive, just sees more pings.
func pingEvery(keepalive time.Duration) time.Duration {
	return max(time.Second, (keepalive / 2).Truncate(time.Second))
}

// probeNotTLS checks, after a connect error that a port without TLS also
// causes (EOF, reset, timeout), whether the port speaks TLS at all, so that
// the certificate is not blamed for it.
func (p *Publisher) probeNotTLS(ctx context.Context, brokerURL string, err error) error {
	msg := err.Error()
	if !containsAny(msg, "EOF", "connection reset", "broken pipe", "timeout", "deadline exceeded", "first record does not look like a TLS handshake") {
		return nil
	}
	u, perr := url.Parse(brokerURL)
	if perr != nil {
		return nil
	}
	timeout := 5 * time.Second
	if t := p.opts.ConnectTimeout; t > 0 && t < timeout {
		timeout = t
	}
	if notTLS := ProbeNotTLS(ctx, u.Host, timeout); notTLS != nil {
		return fmt.Errorf("%w (%v)", notTLS, err)
	}
	return nil
}
