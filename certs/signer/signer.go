// Package signer is `edgepub ca serve`: an MQTT client next to the broker
// that signs the CSRs devices publish on <CN>/certs/csr and answers on
// <CN>/certs/issued. With the tutorial's use_identity_as_username and
// `pattern readwrite %u/#`, only the device with that CN can publish on its
// topic, so the topic proves who asks. It also keeps the CRL fresh, since
// Mosquitto refuses every client once the CRL's nextUpdate has passed
// (eclipse/mosquitto#1826).
package signer

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/logging"
)

// Topics, relative to the device name.
const (
	CSRTopic    = "certs/csr"
	IssuedTopic = "certs/issued"
)

// Answer is the JSON published on <CN>/certs/issued.
type Answer struct {
	// CSR is the hex SHA-256 of the request's DER, so the device knows
	// which of its requests this answers.
	CSR string `json:"csr_sha256"`
	// Certificate is the new certificate followed by the CA chain (PEM).
	Certificate string `json:"certificate,omitempty"`
	// Refused is a pki.Refused… reason, Detail says why in words.
	Refused string `json:"refused,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// Ready is Answer.Detail for an empty request: a probe that only asks
// whether a signer listens.
const Ready = "signer ready"

// CSRDigest is Answer.CSR for a request.
func CSRDigest(csrDER []byte) string {
	sum := sha256.Sum256(csrDER)
	return hex.EncodeToString(sum[:])
}

// Opts configures Run.
type Opts struct {
	Authority *pki.Authority
	// BrokerURL, e.g. ssl://127.0.0.1:8883, and the TLS config of the
	// signer's own client certificate (CN signer in the README's ACL).
	BrokerURL string
	TLS       *tls.Config
	// ClientID defaults to the certificate's CN ("signer"). The session is
	// persistent, so CSRs sent while the signer was down arrive later.
	ClientID string
	// Validity of issued certificates; default pki.DefaultValidity.
	Validity time.Duration
	// RateBurst requests per device at once, then one per RateEvery;
	// defaults 3 and 1h.
	RateBurst int
	RateEvery time.Duration
	// CRLValidity is the lifetime of the CRLs written; default
	// pki.DefaultCRLValidity. CRLRefresh: a new CRL is written once less
	// than this remains; default half of CRLValidity.
	CRLValidity, CRLRefresh time.Duration
	// ReloadCommand runs after a new CRL is written so that Mosquitto reads
	// it; nil means none.
	ReloadCommand []string
	Logger        *slog.Logger
	Now           func() time.Time
}

// DefaultReloadCommand makes a packaged Mosquitto read the new CRL.
var DefaultReloadCommand = []string{"systemctl", "reload", "mosquitto"}

func (o *Opts) defaults() {
	if o.Validity <= 0 {
		o.Validity = pki.DefaultValidity
	}
	if o.RateBurst <= 0 {
		o.RateBurst = 3
	}
	if o.RateEvery <= 0 {
		o.RateEvery = time.Hour
	}
	if o.CRLValidity <= 0 {
		o.CRLValidity = pki.DefaultCRLValidity
	}
	if o.CRLRefresh <= 0 || o.CRLRefresh >= o.CRLValidity {
		o.CRLRefresh = o.CRLValidity / 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientID == "" {
		o.ClientID = "signer"
	}
}

// maxPayload bounds what is even looked at: a CSR plus the current
// certificate chain.
const maxPayload = pki.MaxCSRBytes + 16<<10

type request struct {
	device  string
	payload []byte
}

// Server is a running signer.
type Server struct {
	opts    Opts
	log     *slog.Logger
	limiter *limiter
	work    chan request
	client  mqtt.Client
	crlMu   sync.Mutex
}

// Run signs CSRs and refreshes the CRL until ctx is done.
func Run(ctx context.Context, o Opts) error {
	o.defaults()
	s := &Server{opts: o, log: o.Logger, limiter: newLimiter(o.RateBurst, o.RateEvery), work: make(chan request, 64)}
	// The CRL comes first: a stale one locks every client out.
	if err := s.refreshCRL(ctx, false); err != nil {
		return err
	}
	filter := "+/" + CSRTopic
	mo := mqtt.NewClientOptions().
		AddBroker(o.BrokerURL).
		SetClientID(o.ClientID).
		SetTLSConfig(o.TLS).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(5 * time.Second).
		SetMaxReconnectInterval(time.Minute).
		SetOnConnectHandler(func(c mqtt.Client) {
			// Re-subscribing is harmless with a kept session and needed
			// after the broker lost it.
			tok := c.Subscribe(filter, 1, s.receive)
			go func() {
				if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
					s.log.Error("cannot subscribe to "+filter+": grant the signer `topic read +/certs/csr` in the ACL file", "error", tok.Error())
					return
				}
				s.log.Info("signer ready", "broker", o.BrokerURL, "topic", filter, "ca", o.Authority.CertFile, logging.MessageID(logging.MsgSignerReady))
			}()
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.log.Warn("signer lost the broker, reconnecting", "broker", o.BrokerURL, "error", err)
		})
	s.client = mqtt.NewClient(mo)
	s.client.Connect() // retries by itself (ConnectRetry)
	defer s.client.Disconnect(1000)

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.crlLoop(ctx) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-s.work:
			s.handle(ctx, r)
		}
	}
}

// receive runs on paho's goroutine: it only queues, since publishing the
// answer from here could block paho's own message routing.
func (s *Server) receive(_ mqtt.Client, m mqtt.Message) {
	device, _, _ := strings.Cut(m.Topic(), "/")
	r := request{device: device, payload: m.Payload()}
	select {
	case s.work <- r:
	default:
		s.log.Warn("CSR dropped: the signer is busy", "device", device, "reason", pki.RefusedRateLimit, logging.MessageID(logging.MsgCSRRefused))
	}
}

func (s *Server) handle(ctx context.Context, r request) {
	now := s.opts.Now()
	var csrDER, current []byte
	if len(r.payload) <= maxPayload {
		csrDER, current = splitRequest(r.payload)
	}
	ans := Answer{CSR: CSRDigest(csrDER)}
	var issued *pki.Issued
	var err error
	switch {
	case len(r.payload) == 0:
		// A presence probe (edgepub check): answered, not counted.
		ans.CSR, ans.Detail = "", Ready
		s.log.Debug("presence probe answered", "device", r.device)
	case len(r.payload) > maxPayload:
		err = &pki.Refusal{Reason: pki.RefusedTooLarge, Detail: fmt.Sprintf("the request is %d bytes, more than %d", len(r.payload), maxPayload)}
	case csrDER == nil:
		err = &pki.Refusal{Reason: pki.RefusedMalformed, Detail: "no PEM CERTIFICATE REQUEST in the message"}
	case !s.limiter.allow(r.device, now):
		err = &pki.Refusal{Reason: pki.RefusedRateLimit, Detail: fmt.Sprintf("more than %d requests within %s", s.opts.RateBurst, s.opts.RateEvery)}
	default:
		issued, err = s.opts.Authority.Sign(pki.Request{Device: r.device, CSR: csrDER, Current: current}, s.opts.Validity, now)
	}
	switch {
	case err != nil:
		var ref *pki.Refusal
		if !errors.As(err, &ref) {
			ref = &pki.Refusal{Reason: pki.RefusedCAProblem, Detail: err.Error()}
		}
		ans.Refused, ans.Detail = ref.Reason, ref.Detail
		s.log.Warn("CSR refused: "+ref.Detail, "device", r.device, "serial", currentSerial(current), "reason", ref.Reason, logging.MessageID(logging.MsgCSRRefused))
	case issued != nil:
		ans.Certificate = string(issued.PEM)
		s.log.Info("certificate issued", "device", r.device, "serial", pki.SerialHex(issued.Cert.SerialNumber),
			"not_after", issued.Cert.NotAfter, "reason", "csr_accepted", logging.MessageID(logging.MsgCSRSigned))
	}
	payload, _ := json.Marshal(ans)
	tok := s.client.Publish(r.device+"/"+IssuedTopic, 1, false, payload)
	select {
	case <-tok.Done():
		if tok.Error() != nil {
			s.log.Error("answer not delivered; the device asks again", "device", r.device, "error", tok.Error())
		}
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
		s.log.Error("answer not acknowledged within 30s; the device asks again", "device", r.device)
	}
}

// splitRequest takes the CSR (DER) and the current certificate (PEM) out
// of a request: a PEM CERTIFICATE REQUEST, optionally followed by the
// device's current certificate, as `openssl req` and `cat` make it.
func splitRequest(payload []byte) (csrDER, current []byte) {
	rest := payload
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return csrDER, current
		}
		switch block.Type {
		case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			if csrDER == nil {
				csrDER = block.Bytes
			}
		case "CERTIFICATE":
			current = append(current, pem.EncodeToMemory(block)...)
		}
	}
}

// currentSerial names the certificate a device sent along, for the log.
func currentSerial(current []byte) string {
	if certs, err := pki.ParseCertificates(current); err == nil {
		return pki.SerialHex(certs[0].SerialNumber)
	}
	return ""
}
