package demobroker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Opts configures the demo broker.
type Opts struct {
	// Addr is the loopback host:port to listen on; "" means 127.0.0.1 on a
	// port the kernel picks. Any address that is not loopback is refused.
	Addr string
	// TLS is the server side of mutual TLS, built by the caller: the server
	// certificate in Certificates (or GetCertificate), the CA that signs the
	// client certificates in ClientCAs, and ClientAuth set to
	// tls.RequireAndVerifyClientCert. Start refuses anything weaker.
	TLS *tls.Config
	// Logger receives the broker's refusals and drops, and mochi's own
	// warnings. Nil discards them.
	Logger *slog.Logger
}

// Message is a publish the broker delivered.
type Message struct {
	Topic   string
	Payload []byte
	// ClientID is the publishing client's MQTT client id.
	ClientID string
	// Username is the publisher's certificate common name.
	Username string
	QoS      byte
	Retain   bool
}

// Broker is a running demo broker.
type Broker struct {
	server   *mqtt.Server
	listener *tlsListener
	log      *slog.Logger

	stopOnCancel func() bool
	closeOnce    sync.Once
	closeErr     error
	nextSubID    atomic.Int64
}

// Start starts a broker on opts.Addr. It runs until Close is called or ctx
// is done.
func Start(ctx context.Context, opts Opts) (*Broker, error) {
	addr, err := loopbackAddr(opts.Addr)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := serverTLS(opts.TLS)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	server := mqtt.New(&mqtt.Options{
		InlineClient: true,
		Logger:       slog.New(quietHandler{min: slog.LevelWarn, inner: log.Handler()}).With("component", "mochi"),
		// The demo has no use for $SYS topics; refresh them hourly, not every second.
		SysTopicResendInterval: 3600,
	})
	rules := &seedRules{log: log, refuse: server.SendConnack}
	if err := server.AddHook(rules, nil); err != nil {
		return nil, fmt.Errorf("add the demo broker's access rules: %w", err)
	}
	listener, err := newTLSListener(addr, tlsConfig, log)
	if err != nil {
		return nil, fmt.Errorf("demo broker cannot listen on %s: %w (pick another port or leave the address empty)", addr, err)
	}
	if err := server.AddListener(listener); err != nil {
		listener.ln.Close()
		return nil, fmt.Errorf("add the demo broker's listener: %w", err)
	}
	if err := server.Serve(); err != nil {
		// Mochi fails here only before it starts any listener.
		listener.ln.Close()
		return nil, fmt.Errorf("start the demo broker: %w", err)
	}

	b := &Broker{server: server, listener: listener, log: log}
	b.stopOnCancel = context.AfterFunc(ctx, func() { _ = b.shutdown() })
	log.Info("demo broker listening", "url", b.URL())
	return b, nil
}

// serverTLS checks that cfg demands a verified client certificate, as the
// seed's require_certificate true does, and returns a copy for the listener.
func serverTLS(cfg *tls.Config) (*tls.Config, error) {
	switch {
	case cfg == nil:
		return nil, errors.New("demo broker needs a TLS config: give it the server certificate, the client CA and tls.RequireAndVerifyClientCert")
	case cfg.ClientAuth != tls.RequireAndVerifyClientCert:
		return nil, fmt.Errorf("demo broker TLS config has ClientAuth %v: set tls.RequireAndVerifyClientCert, the tutorial's require_certificate true", cfg.ClientAuth)
	case cfg.ClientCAs == nil:
		return nil, errors.New("demo broker TLS config has no ClientCAs: add the CA that signs the client certificates")
	case len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil:
		return nil, errors.New("demo broker TLS config has no server certificate: set Certificates")
	}
	c := cfg.Clone()
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	return c, nil
}

// Addr returns the host:port the broker listens on, with the port the
// kernel picked.
func (b *Broker) Addr() string { return b.listener.Address() }

// URL returns the broker's address as an MQTT client dials it, such as
// "ssl://127.0.0.1:41883".
func (b *Broker) URL() string { return "ssl://" + b.Addr() }

// Subscribe calls fn for every message delivered on a topic matching the
// MQTT filter, such as "#" or "Kai/sensors/#", whoever published it. fn runs
// on the publishing client's connection, before the broker reads its next
// packet: it must return quickly and must not call the broker.
func (b *Broker) Subscribe(filter string, fn func(Message)) error {
	id := int(b.nextSubID.Add(1))
	err := b.server.Subscribe(filter, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		msg := Message{
			Topic:    pk.TopicName,
			Payload:  append([]byte(nil), pk.Payload...),
			ClientID: pk.Origin,
			QoS:      pk.FixedHeader.Qos,
			Retain:   pk.FixedHeader.Retain,
		}
		if cl, ok := b.server.Clients.Get(pk.Origin); ok {
			msg.Username = string(cl.Properties.Username)
		}
		fn(msg)
	})
	if err != nil {
		return fmt.Errorf("demo broker cannot subscribe to %q: %w", filter, err)
	}
	return nil
}

// Close disconnects every client, stops listening and returns once all of
// the broker's goroutines have ended. Calling it again does nothing.
func (b *Broker) Close() error {
	b.stopOnCancel()
	return b.shutdown()
}

func (b *Broker) shutdown() error {
	b.closeOnce.Do(func() {
		b.closeErr = b.server.Close()
		b.listener.wait()
		b.log.Info("demo broker stopped")
	})
	return b.closeErr
}
