// Package doctor checks a device's set-up step by step, the way a person
// would debug it: config, certificate bundle, name resolution, TCP, TLS,
// MQTT CONNECT and a test publish. Each step says what failed and how to fix
// it; later steps are skipped once one fails, since they could only fail
// for the same reason.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/homeassistant"
	"github.com/edgepub/edgepub/publisher"
)

// Step is the outcome of one check.
type Step struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Fix says what to do when the step failed; Note is information on a
	// step that passed (e.g. a legacy certificate).
	Fix  string `json:"fix,omitempty"`
	Note string `json:"note,omitempty"`
}

// Opts configure a check.
type Opts struct {
	Timeout time.Duration
}

// Check runs every step against the first configured broker and returns
// them in order; steps after a failure are not run.
func Check(ctx context.Context, cfg config.Config, o Opts) []Step {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	c := &checker{cfg: cfg, opts: o}
	steps := []func(context.Context) Step{c.bundle, c.resolve, c.tcp, c.handshake, c.connect, c.publish}
	if cfg.Presence.HomeAssistant {
		steps = append(steps, c.discoveryACL)
	}
	var out []Step
	for _, step := range steps {
		s := step(ctx)
		out = append(out, s)
		if !s.OK {
			break
		}
	}
	if c.client != nil {
		c.client.Disconnect(100)
	}
	return out
}

type checker struct {
	cfg  config.Config
	opts Opts

	source *certs.Source
	device string
	url    string
	host   string
	port   string
	addrs  []string
	legacy *x509.Certificate
	client mqtt.Client
}

func (c *checker) bundle(context.Context) Step {
	s := Step{Name: "certificates"}
	names := certs.ConfigNames(c.cfg.Certs)
	b, err := certs.Load(c.cfg.Certs.Dir, names, time.Now())
	if err != nil {
		s.Detail, s.Fix = err.Error(), "fix the file named above; `edgepub certs inspect "+c.cfg.Certs.Dir+"` shows the whole folder"
		return s
	}
	c.source = certs.NewSource(c.cfg.Certs.Dir, names, b, nil)
	c.device = b.Identity
	s.OK = true
	s.Detail = fmt.Sprintf("device %q from %s, expires in %d days", b.Identity, b.CertFile, certs.DaysLeft(b.Leaf(), time.Now()))
	var notes []string
	for _, w := range b.Warnings {
		notes = append(notes, w.Message)
	}
	s.Note = strings.Join(notes, "; ")
	return s
}

func (c *checker) resolve(ctx context.Context) Step {
	s := Step{Name: "name resolution"}
	// config.Validate left the URL as scheme://host:port.
	c.url = c.cfg.Broker.URLs[0]
	_, hostPort, _ := strings.Cut(c.url, "://")
	var err error
	if c.host, c.port, err = net.SplitHostPort(hostPort); err != nil {
		s.Detail, s.Fix = fmt.Sprintf("broker URL %q: %v", c.url, err), "write it as ssl://HOST:8883 in broker.urls"
		return s
	}
	if ip := net.ParseIP(c.host); ip != nil {
		c.addrs = []string{ip.String()}
		s.OK, s.Detail = true, c.host+" is an IP address"
		return s
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, c.host)
	if err != nil {
		s.Detail, s.Fix = err.Error(), "check the broker host name in broker.urls and the device's DNS (/etc/resolv.conf), or use the broker's IP address"
		return s
	}
	c.addrs = addrs
	s.OK, s.Detail = true, c.host+" is "+strings.Join(addrs, ", ")
	return s
}

func (c *checker) tcp(ctx context.Context) Step {
	s := Step{Name: "TCP connect"}
	addr := net.JoinHostPort(c.addrs[0], c.port)
	d := net.Dialer{Timeout: c.opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		s.Detail, s.Fix = err.Error(), publisher.Explain(err)
		if s.Fix == "" {
			s.Fix = "cannot reach " + addr + ": check the network, a firewall on the broker (port " + c.port + ") and the address"
		}
		return s
	}
	conn.Close()
	s.OK, s.Detail = true, addr+" accepts connections"
	return s
}

func (c *checker) tlsConfig() *tls.Config {
	return certs.ClientTLSConfig(c.source, certs.TLSOpts{
		Host:               c.host,
		OnLegacyServerCert: func(cert *x509.Certificate) { c.legacy = cert },
	})
}

func (c *checker) handshake(ctx context.Context) Step {
	s := Step{Name: "TLS handshake"}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: c.opts.Timeout}, Config: c.tlsConfig()}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(c.host, c.port))
	if err != nil {
		s.Detail, s.Fix = err.Error(), c.tlsFix(err)
		return s
	}
	defer conn.Close()
	// With TLS 1.3 the broker checks the client certificate after the
	// client considers the handshake done; its refusal arrives as an alert
	// on the first read. An MQTT broker sends nothing before CONNECT, so a
	// read that times out means the certificate was accepted.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
		s.Detail, s.Fix = err.Error(), c.tlsFix(err)
		return s
	}
	st := conn.(*tls.Conn).ConnectionState()
	s.OK = true
	s.Detail = fmt.Sprintf("%s, broker certificate %q verified against ca.crt", tls.VersionName(st.Version), st.PeerCertificates[0].Subject.CommonName)
	if c.legacy != nil {
		s.Note = "the broker's certificate has no subjectAltName (accepted by its CN); reissue it with one: " + certs.LegacyReissueHint(c.host)
	}
	return s
}

// tlsFix says what to do about a failed handshake: the broker's refusals
// as the publisher explains them; edgepub's own check of the broker's
// certificate already says it in the error.
func (c *checker) tlsFix(err error) string {
	if fix := publisher.Explain(err); fix != "" {
		return fix
	}
	return "do what the error says; this device trusts the brokers whose certificate " + c.cfg.Certs.Dir + "/ca.crt signed"
}

func (c *checker) connect(ctx context.Context) Step {
	s := Step{Name: "MQTT connect"}
	o := mqtt.NewClientOptions().AddBroker(c.url).SetClientID(c.device + "-check").
		SetTLSConfig(c.tlsConfig()).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectTimeout(c.opts.Timeout).SetKeepAlive(30 * time.Second)
	client := mqtt.NewClient(o)
	tok := client.Connect()
	if !waitToken(ctx, tok, c.opts.Timeout) {
		s.Detail, s.Fix = "no CONNACK within "+c.opts.Timeout.String(), "the broker accepted TLS but does not answer MQTT: is this port a MQTT listener?"
		return s
	}
	if err := tok.Error(); err != nil {
		s.Detail = err.Error()
		s.Fix = "the broker refused the identity " + strconv.Quote(c.device) + ": with use_identity_as_username the certificate's CN is the user name; check require_certificate, use_identity_as_username and any password_file or plugin"
		return s
	}
	c.client = client
	s.OK, s.Detail = true, "connected as "+strconv.Quote(c.device)+" (the certificate's CN is the user name)"
	return s
}

// roundTrip subscribes to topic as the device and publishes to it: Mosquitto
// acknowledges a publish the ACL forbids and drops it, so only seeing the
// message come back proves the ACL lets it through.
func (c *checker) roundTrip(ctx context.Context, topic string, payload []byte) error {
	got := make(chan struct{}, 1)
	sub := c.client.Subscribe(topic, 1, func(mqtt.Client, mqtt.Message) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	if !waitToken(ctx, sub, c.opts.Timeout) || sub.Error() != nil {
		return fmt.Errorf("subscribe to %s refused", topic)
	}
	defer c.client.Unsubscribe(topic)
	pub := c.client.Publish(topic, 1, false, payload)
	if !waitToken(ctx, pub, c.opts.Timeout) || pub.Error() != nil {
		return fmt.Errorf("publish to %s not acknowledged", topic)
	}
	select {
	case <-got:
		return nil
	case <-time.After(min(c.opts.Timeout, 3*time.Second)):
		return fmt.Errorf("a test message to %s did not come back", topic)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *checker) publish(ctx context.Context) Step {
	s := Step{Name: "test publish"}
	topic := c.device + "/check"
	if err := c.roundTrip(ctx, topic, []byte("edgepub check")); err != nil {
		s.Detail = err.Error()
		s.Fix = "the broker's ACL does not let " + strconv.Quote(c.device) + " use " + c.device + "/#: add `pattern readwrite %u/#` to its acl_file (the seed's rule) and restart Mosquitto"
		return s
	}
	s.OK, s.Detail = true, "published and received "+topic+" (readings go to "+c.device+"/sensors/…)"
	return s
}

func (c *checker) discoveryACL(ctx context.Context) Step {
	s := Step{Name: "discovery ACL"}
	prefix := c.cfg.Presence.DiscoveryPrefix
	// An empty config message is Home Assistant's "remove this entity", so
	// the probe cannot create anything there.
	topic := homeassistant.DiscoveryTopic(prefix, c.device, "edgepub_check")
	if err := c.roundTrip(ctx, topic, nil); err != nil {
		s.Detail = err.Error()
		s.Fix = "Home Assistant discovery lies outside " + c.device + "/: add `" + homeassistant.DiscoveryACL(prefix) + "` to the broker's acl_file"
		return s
	}
	s.OK, s.Detail = true, "devices may announce themselves under "+prefix+"/sensor/"+c.device+"/"
	return s
}

func waitToken(ctx context.Context, t mqtt.Token, timeout time.Duration) bool {
	select {
	case <-t.Done():
		return true
	case <-time.After(timeout):
		return false
	case <-ctx.Done():
		return false
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Failed reports whether any step failed.
func Failed(steps []Step) bool {
	for _, s := range steps {
		if !s.OK {
			return true
		}
	}
	return false
}
