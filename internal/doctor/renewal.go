package doctor

import (
	"context"
	"encoding/json"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs/signer"
)

// renewal asks whether a signer (edgepub ca serve) listens: an empty
// request on <device>/certs/csr is answered on <device>/certs/issued
// without signing anything. With certs.renew: auto no answer is a WARN
// (run warns when renewal fails); with off, an answer suggests turning
// renewal on, and no answer is no step.
func (c *checker) renewal(ctx context.Context) []Step {
	if c.client == nil {
		return nil
	}
	const name = "renewal"
	topic := c.device + "/" + signer.IssuedTopic
	auto := c.cfg.Certs.Renew == "auto"
	answered := c.signerAnswers(ctx)
	switch {
	case auto && answered:
		return []Step{pass(name, "certs.renew: auto, and a signer answers on "+topic)}
	case auto:
		return []Step{graded(name, Warn, "certs.renew: auto, but no signer answers on "+topic+": the certificate will not renew",
			"run `edgepub ca serve` on the broker host and give it the ACL lines `user signer`, `topic read +/certs/csr`, `topic write +/certs/issued`")}
	case answered:
		s := pass(name, "certs.renew: off")
		s.Note = "a signer answers on " + topic + ": set certs.renew: auto and the certificate renews itself before it expires"
		return []Step{s}
	}
	return nil
}

func (c *checker) signerAnswers(ctx context.Context) bool {
	got := make(chan struct{}, 1)
	topic := c.device + "/" + signer.IssuedTopic
	sub := c.client.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		var a signer.Answer
		if json.Unmarshal(m.Payload(), &a) == nil && a.Detail == signer.Ready {
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	if !waitToken(ctx, sub, c.opts.Timeout) || sub.Error() != nil {
		return false
	}
	defer c.client.Unsubscribe(topic)
	if pub := c.client.Publish(c.device+"/"+signer.CSRTopic, 1, false, []byte{}); !waitToken(ctx, pub, c.opts.Timeout) || pub.Error() != nil {
		return false
	}
	select {
	case <-got:
		return true
	case <-time.After(min(c.opts.Timeout, 2*time.Second)):
	case <-ctx.Done():
	}
	return false
}
