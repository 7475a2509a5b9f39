// Package doctor checks a device's set-up step by step, the way a person
// would debug it: sensors, certificate bundle, name resolution, TCP, TLS,
// MQTT CONNECT and a test publish. Each step ends in PASS, WARN or FAIL with
// the severity the daemon gives the same finding (its WARN is WARN, its
// ERROR is FAIL), and says how to fix it. Once a step fails in a way later
// steps depend on, they are skipped, since they could only fail for the
// same reason.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/homeassistant"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/publisher"
	"github.com/edgepub/edgepub/sensors"
)

// Status is a step's outcome.
type Status string

// Outcomes, from fine to worst.
const (
	Pass Status = "PASS"
	Warn Status = "WARN" // works, but run logs a warning about it
	Fail Status = "FAIL" // run logs an error about it, or cannot work
)

// Step is the outcome of one check.
type Step struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// OK is Status != Fail.
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Fix says what to do about a WARN or FAIL; Note is information on a
	// step that passed.
	Fix  string `json:"fix,omitempty"`
	Note string `json:"note,omitempty"`
	// blocks: the later steps depend on this one, so a FAIL ends the check.
	blocks bool
}

func pass(name, detail string) Step { return Step{Name: name, Status: Pass, OK: true, Detail: detail} }

// fail is a FAIL that ends the check.
func fail(name, detail, fix string) Step {
	return Step{Name: name, Status: Fail, Detail: detail, Fix: fix, blocks: true}
}

// graded is a step whose status the finding's severity decides; a FAIL of
// it does not stop the later steps.
func graded(name string, st Status, detail, fix string) Step {
	return Step{Name: name, Status: st, OK: st != Fail, Detail: detail, Fix: fix}
}

// TestTopic is where the test message goes, below the device's own topics
// (the tutorial's ACL admits it) but outside <device>/sensors/, so
// consumers of readings never see it.
func TestTopic(device string) string { return device + "/check" }

// Opts configure a check.
type Opts struct {
	Timeout time.Duration
	// Now is the clock that grades certificate expiry; nil means time.Now.
	Now func() time.Time
	// OpenSensor opens a configured sensor for the sensors step, which
	// reads each once; nil skips the step.
	OpenSensor func(context.Context, config.Sensor) (sensors.Sensor, error)
	// OnStep, if set, is called with each step as soon as it is done; a
	// step cut short by ctx is not reported.
	OnStep func(Step)
}

// Check runs every step against the first configured broker and returns
// them in order; steps after a blocking failure are not run. When ctx ends,
// it returns the steps done before.
func Check(ctx context.Context, cfg config.Config, o Opts) []Step {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &checker{cfg: cfg, opts: o}
	var steps []func(context.Context) []Step
	if o.OpenSensor != nil {
		steps = append(steps, c.sensors)
	}
	steps = append(steps, c.bundle, one(c.stateDir), one(c.resolve), one(c.tcp), c.handshake, one(c.connect), one(c.publish))
	if cfg.Presence.HomeAssistant {
		steps = append(steps, one(c.discoveryACL))
	}
	var out []Step
	defer func() {
		if c.client != nil {
			c.client.Disconnect(100)
		}
	}()
	for _, step := range steps {
		for _, s := range step(ctx) {
			if ctx.Err() != nil {
				return out
			}
			out = append(out, s)
			if o.OnStep != nil {
				o.OnStep(s)
			}
			if s.Status == Fail && s.blocks {
				return out
			}
		}
	}
	return out
}

// one adapts a step that only passes or fails, setting OK, to a list of
// graded steps; its failure ends the check.
func one(step func(context.Context) Step) func(context.Context) []Step {
	return func(ctx context.Context) []Step {
		s := step(ctx)
		if s.Status == "" {
			s.Status, s.blocks = Pass, !s.OK
			if !s.OK {
				s.Status = Fail
			}
		}
		return []Step{s}
	}
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

func (c *checker) bundle(context.Context) []Step {
	const name = "certificates"
	dir := c.cfg.Certs.Dir
	names := certs.ConfigNames(c.cfg.Certs)
	now := c.opts.Now()
	b, err := certs.Load(dir, names, now)
	if err != nil {
		return []Step{fail(name, err.Error(), bundleFix(err, dir, now))}
	}
	c.source = certs.NewSource(dir, names, b, nil)
	c.device = b.Identity
	leaf := b.Leaf()
	days := certs.DaysLeft(leaf, now)
	detail := fmt.Sprintf("device %q from %s, expires in %d days", b.Identity, b.CertFile, days)
	steps := []Step{pass(name, detail)}
	k := c.cfg.Certs
	if st := expiryStatus(certs.Grade(leaf, now, k.WarnDays, k.ErrorDays)); st != Pass {
		steps[0] = graded(name, st, detail+fmt.Sprintf(" (warn_days %d, error_days %d)", k.WarnDays, k.ErrorDays), renewFix(b.CertFile, leaf))
	}
	for _, ca := range b.CA {
		if st := expiryStatus(certs.Grade(ca, now, k.WarnDays, k.ErrorDays)); st != Pass {
			steps = append(steps, graded("CA certificate", st, fmt.Sprintf("%s (%s) expires in %d days", b.CAFile, ca.Subject.CommonName, certs.DaysLeft(ca, now)),
				"make a new CA and reissue the broker's and devices' certificates before "+ca.NotAfter.UTC().Format(time.DateOnly)))
		}
	}
	for _, w := range b.Warnings {
		steps = append(steps, hygieneStep(w))
	}
	return steps
}

// expiryStatus grades an approaching expiry as the daemon logs it: a
// warning from warn_days, an error from error_days.
func expiryStatus(l certs.Level) Status {
	switch l {
	case certs.LevelWarning:
		return Warn
	case certs.LevelError:
		return Fail
	}
	return Pass
}

// hygieneStep grades a bundle warning as run logs it: a CA key on the
// device at error level (it endangers the whole fleet), the rest as
// warnings.
func hygieneStep(w certs.Warning) Step {
	if w.MessageID == logging.MsgCAKeyOnDevice {
		return graded("CA key", Fail, w.Message, "move "+w.File+" to an offline place, then delete it here: shred -u "+w.File)
	}
	return graded("key file", Warn, w.Message, "chmod 600 "+w.File)
}

// renewFix says how to renew the client certificate, as the tutorial made it.
func renewFix(file string, leaf *x509.Certificate) string {
	return fmt.Sprintf("before %s, issue a new certificate for %s with the CA (the tutorial's openssl x509 -req … -days 825) and replace %s; edgepub picks it up without a restart",
		leaf.NotAfter.UTC().Format(time.DateOnly), leaf.Subject.CommonName, file)
}

// bundleFix names what to do about a bundle that does not load.
func bundleFix(err error, dir string, now time.Time) string {
	var ve *certs.ValidityError
	inspect := "; `edgepub certs inspect " + dir + "` shows each file"
	switch {
	case errors.As(err, &ve) && ve.NotYetValid():
		return "the device's clock says " + now.UTC().Format(time.RFC3339) + ": if that is wrong, turn on time sync (sudo timedatectl set-ntp true) and wait for it; else the certificate was issued with a start date in the future"
	case errors.As(err, &ve):
		return renewFix(ve.File, ve.Cert)
	case errors.Is(err, fs.ErrPermission):
		return "the files cannot be read by this user: run edgepub check with sudo, or as the user the service runs as"
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(dir); serr != nil {
			return "the folder " + dir + " does not exist: copy ca.crt, <name>.crt and <name>.key there as the tutorial does, or name the folder with --cert-dir DIR"
		}
		return "copy the missing file into " + dir + inspect
	case errors.Is(err, certs.ErrNoClientCert):
		return "copy the device's <name>.crt and <name>.key into " + dir + " (the tutorial's openssl req and x509 -req steps make them)"
	case errors.Is(err, certs.ErrSeveralClientCerts):
		return "choose one pair: set certs.cert and certs.key in the config, or give --cert FILE --key FILE"
	case errors.Is(err, certs.ErrEncryptedKey):
		return "edgepub cannot ask for a passphrase: store the key decrypted, with mode 600 (the error names the openssl command)"
	case errors.Is(err, certs.ErrKeyMismatch):
		return "copy the key made together with the certificate (the openssl genrsa output of the same device) into " + dir + inspect
	case errors.Is(err, certs.ErrNotSignedByCA):
		return "copy the ca.crt of the CA that signed the device's certificate (the one in the broker's cafile) into " + dir
	case errors.Is(err, certs.ErrNotPEM), errors.Is(err, certs.ErrWrongPEMType):
		return "a file holds something other than its name says: copy the right file" + inspect
	}
	return "the error names the file and what it needs" + inspect
}

// stateDir checks what `run` needs at start: a state dir it can create or
// write as this user, for the outbox and the seq that continues across runs.
func (c *checker) stateDir(context.Context) Step {
	s := Step{Name: "state dir"}
	dir := c.cfg.StateDir
	who := "uid " + strconv.Itoa(os.Geteuid())
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username + " (" + who + ")"
	}
	fix := "pass --state-dir DIR with a folder user " + who + " can write (or set state_dir), or run edgepub as the service (sudo systemctl start edgepub)"
	p := dir
	for {
		st, err := os.Stat(p)
		if err == nil && !st.IsDir() {
			s.Detail, s.Fix = p+" is not a directory, so the state dir "+dir+" cannot be created", fix
			return s
		}
		if err == nil {
			break
		}
		if parent := filepath.Dir(p); parent != p {
			p = parent
			continue
		}
		s.Detail, s.Fix = err.Error(), fix
		return s
	}
	if err := syscall.Access(p, 2|1); err != nil { // W_OK|X_OK
		s.Detail, s.Fix = fmt.Sprintf("user %s cannot write %s (%v), so run cannot keep its outbox and seq in %s", who, p, err, dir), fix
		return s
	}
	s.OK = true
	s.Detail = fmt.Sprintf("%s can be written by user %s; the outbox and seq are kept there", dir, who)
	if p != dir {
		s.Detail = fmt.Sprintf("%s does not exist yet; run creates it in %s, which user %s can write", dir, p, who)
	}
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

// notTLS replaces a failed handshake's explanation when the port does not
// speak TLS at all (a plain MQTT listener, or a silent one): then the
// certificate is not to blame.
func (c *checker) notTLS(ctx context.Context, s Step) Step {
	err := publisher.ProbeNotTLS(ctx, net.JoinHostPort(c.host, c.port), min(c.opts.Timeout, 5*time.Second))
	if err != nil {
		s.Detail, s.Fix = err.Error(), "use the broker's TLS listener in broker.urls (the tutorial's is ssl://"+net.JoinHostPort(c.host, "8883")+")"
	}
	return s
}

func (c *checker) handshake(ctx context.Context) []Step {
	const name = "TLS handshake"
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: c.opts.Timeout}, Config: c.tlsConfig()}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(c.host, c.port))
	if err != nil {
		return []Step{c.notTLS(ctx, fail(name, err.Error(), c.tlsFix(err)))}
	}
	defer conn.Close()
	// With TLS 1.3 the broker checks the client certificate after the
	// client considers the handshake done; its refusal arrives as an alert
	// on the first read. An MQTT broker sends nothing before CONNECT, so a
	// read that times out means the certificate was accepted.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
		return []Step{c.notTLS(ctx, fail(name, err.Error(), c.tlsFix(err)))}
	}
	st := conn.(*tls.Conn).ConnectionState()
	server := st.PeerCertificates[0]
	steps := []Step{pass(name, fmt.Sprintf("%s, broker certificate %q verified against ca.crt", tls.VersionName(st.Version), server.Subject.CommonName))}
	if c.legacy != nil {
		// run logs this as a warning at every connect.
		steps[0].Status = Warn
		steps[0].Detail += "; it has no subjectAltName (accepted by its CN)"
		steps[0].Fix = "reissue the broker's certificate with a SAN: " + certs.LegacyReissueHint(c.host)
	}
	k := c.cfg.Certs
	now := c.opts.Now()
	if st := expiryStatus(certs.Grade(server, now, k.WarnDays, k.ErrorDays)); st != Pass {
		steps = append(steps, graded("broker certificate", st,
			fmt.Sprintf("the broker's certificate %q expires in %d days", server.Subject.CommonName, certs.DaysLeft(server, now)),
			"renew server.crt on the broker before "+server.NotAfter.UTC().Format(time.DateOnly)))
	}
	return steps
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
	topic := TestTopic(c.device)
	payload, _ := json.Marshal(struct {
		Device string    `json:"device"`
		Check  string    `json:"check"`
		Time   time.Time `json:"time"`
	}{c.device, "edgepub check: a test message, not a reading", c.opts.Now().UTC().Truncate(time.Millisecond)})
	if err := c.roundTrip(ctx, topic, payload); err != nil {
		s.Detail = err.Error()
		s.Fix = "the broker's ACL does not let " + strconv.Quote(c.device) + " use " + c.device + "/#: add `" + publisher.ACLLine + "` to its acl_file (the tutorial's rule) and reload Mosquitto (systemctl reload mosquitto); until then run holds readings (broker.verify_delivery: " + c.cfg.Broker.VerifyDelivery + "). If the ACL lets this device write but deliberately not read its topics, set broker.verify_delivery: warn"
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
		// run warns about it and goes on publishing readings.
		s.Status, s.OK = Warn, true
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
func Failed(steps []Step) bool { return Worst(steps) == Fail }

// Worst returns the worst status of steps; Pass for none.
func Worst(steps []Step) Status {
	worst := Pass
	for _, s := range steps {
		switch {
		case s.Status == Fail:
			return Fail
		case s.Status == Warn:
			worst = Warn
		}
	}
	return worst
}

// sensors opens and reads each configured sensor once. A sensor that does
// not work is a warning, as in run, which retries it; unless it is
// required: then run stops, and so it is a failure here.
func (c *checker) sensors(ctx context.Context) []Step {
	var steps []Step
	for _, spec := range c.cfg.Sensors {
		name := "sensor " + spec.Name
		values, err := c.readOnce(ctx, spec)
		if err != nil {
			st, fix := Warn, "run starts without "+spec.Name+" and retries it at every read; once it is wired, `edgepub sensors read "+spec.Name+"` reads it alone"
			if spec.Required {
				st, fix = Fail, "run stops at start while "+spec.Name+" cannot be read (required: true): wire it as the driver's message says, or set required: false"
			}
			steps = append(steps, graded(name, st, err.Error(), fix))
			continue
		}
		fields := make([]string, 0, len(values))
		for f := range values {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		var parts []string
		for _, f := range fields {
			parts = append(parts, fmt.Sprintf("%s %g", f, values[f]))
		}
		steps = append(steps, pass(name, fmt.Sprintf("%s (%s): %s", spec.Name, spec.Type, strings.Join(parts, ", "))))
	}
	return steps
}

func (c *checker) readOnce(ctx context.Context, spec config.Sensor) (sensors.Values, error) {
	s, err := c.opts.OpenSensor(ctx, spec)
	if err != nil {
		return nil, err // it names the sensor
	}
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout.Std())
	defer cancel()
	type result struct {
		values sensors.Values
		err    error
	}
	done := make(chan result, 1)
	// A driver stuck in a bus transfer may ignore ctx: give up on it
	// rather than hang the check (and leave it open, as it is busy).
	go func() {
		v, err := s.Sense(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if cl, ok := s.(io.Closer); ok {
			cl.Close()
		}
		if r.err != nil {
			return nil, fmt.Errorf("sensor %q (type %s): read: %w", spec.Name, spec.Type, r.err)
		}
		return r.values, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sensor %q (type %s): no reading within its timeout %v", spec.Name, spec.Type, spec.Timeout.Std())
	}
}
