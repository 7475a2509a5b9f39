package publisher

import (
	"errors"
	"strings"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Explain says what to do about an error from connecting to the broker, for
// the errors a person can act on: the broker refusing the device (MQTT
// return codes, TLS alerts, a reset during the handshake) and network
// failures. It returns "" for other errors, among them edgepub's own check
// of the broker's certificate, whose message names the file and the fix.
// The daemon's log and `edgepub check` both use it.
func Explain(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, packets.ErrorRefusedNotAuthorised), errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return "the broker knows this device's certificate but does not let it in: check use_identity_as_username and the ACL for its CN"
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return "the broker rejected the client id (the certificate's CN)"
	case containsAny(msg, "remote error: tls: bad certificate", "remote error: tls: unknown certificate",
		"remote error: tls: certificate required", "remote error: tls: expired certificate",
		"remote error: tls: certificate expired", "remote error: tls: error decrypting message",
		"remote error: tls: unknown certificate authority"):
		return "the broker refused this device's certificate: it must be signed by the CA in the broker's cafile (the tutorial's ca.crt) and be valid now"
	case containsAny(msg, "connection reset by peer", "broken pipe", "EOF"):
		// With TLS 1.3 the broker checks our certificate after we think the
		// handshake is done; its refusal often arrives as a reset.
		return "the broker closed the connection while connecting: most often it refused this device's certificate (not signed by the CA in its cafile, or expired); `edgepub check` tells"
	case strings.Contains(msg, "connection refused"):
		return "nothing listens there: is Mosquitto running, with a `listener` on that port (usually 8883) in mosquitto.conf?"
	case containsAny(msg, "i/o timeout", "network is unreachable", "no route to host"):
		return "the broker host does not answer: check the network, a firewall on the broker and the broker address"
	}
	return ""
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
