package renew

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/signer"
)

// errNoAnswer means the CSR was delivered but no signer answered.
var errNoAnswer = errors.New("no answer from the signer")

// exchange sends the CSR with the current certificate on <CN>/certs/csr
// and returns the certificate chain answered on <CN>/certs/issued. The
// subscription exists before the request is sent.
func (r *Renewer) exchange(ctx context.Context, cur *certs.Bundle, csrPEM []byte) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	digest := signer.CSRDigest(block.Bytes)
	answers := make(chan signer.Answer, 4)
	client, err := r.connect(ctx, r.opts.Source, cur.Identity)
	if err != nil {
		return nil, err
	}
	defer client.Disconnect(250)
	tok := client.Subscribe(cur.Identity+"/"+signer.IssuedTopic, 1, func(_ mqtt.Client, m mqtt.Message) {
		var a signer.Answer
		if json.Unmarshal(m.Payload(), &a) == nil && a.CSR == digest {
			select {
			case answers <- a:
			default:
			}
		}
	})
	if err := waitToken(ctx, tok, r.opts.ConnectTimeout); err != nil {
		return nil, fmt.Errorf("subscribe to %s/%s: %w", cur.Identity, signer.IssuedTopic, err)
	}
	payload := append(csrPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cur.Leaf().Raw})...)
	if err := waitToken(ctx, client.Publish(cur.Identity+"/"+signer.CSRTopic, 1, false, payload), r.opts.ConnectTimeout); err != nil {
		return nil, fmt.Errorf("send the certificate request: %w", err)
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(r.opts.AnswerTimeout):
		return nil, fmt.Errorf("%w on %s/%s within %s: is `edgepub ca serve` running on the broker host?", errNoAnswer, cur.Identity, signer.IssuedTopic, r.opts.AnswerTimeout)
	case a := <-answers:
		if a.Refused != "" {
			return nil, &refusal{reason: a.Refused, detail: a.Detail}
		}
		return []byte(a.Certificate), nil
	}
}

// connect opens a clean-session connection with src's pair, under a
// client id of its own so that the daemon's connection stays up.
func (r *Renewer) connect(ctx context.Context, src *certs.Source, identity string) (mqtt.Client, error) {
	var errs []error
	for _, broker := range r.opts.BrokerURLs {
		u, err := url.Parse(broker)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(identity + "-renew").
			SetTLSConfig(certs.ClientTLSConfig(src, certs.TLSOpts{Host: u.Hostname(), Now: r.opts.Now})).
			SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
			SetConnectTimeout(r.opts.ConnectTimeout).SetWriteTimeout(r.opts.ConnectTimeout)
		c := mqtt.NewClient(o)
		if err := waitToken(ctx, c.Connect(), r.opts.ConnectTimeout+time.Second); err != nil {
			c.Disconnect(0)
			errs = append(errs, fmt.Errorf("%s: %w", broker, err))
			continue
		}
		return c, nil
	}
	return nil, fmt.Errorf("connect: %w", errors.Join(errs...))
}

func waitToken(ctx context.Context, tok mqtt.Token, timeout time.Duration) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(timeout):
		return fmt.Errorf("no reply within %s", timeout)
	}
}
