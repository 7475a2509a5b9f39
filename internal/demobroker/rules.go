package demobroker

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// seedRules is the mochi hook that enforces the seed's Mosquitto settings:
// use_identity_as_username and the ACL "pattern readwrite %u/#".
type seedRules struct {
	mqtt.HookBase
	log *slog.Logger
	// refuse sends the CONNACK that turns a client away; it is the server's
	// SendConnack, which mochi does not offer hooks otherwise.
	refuse func(cl *mqtt.Client, reason packets.Code, present bool, props *packets.Properties) error
}

func (h *seedRules) ID() string { return "edgepub-seed-rules" }

func (h *seedRules) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish:
		return true
	}
	return false
}

// errRefused ends a connection the rules turned away after its CONNACK.
var errRefused = errors.New("connection refused by the tutorial's rules")

// OnConnect makes the certificate's common name the username, replacing
// whatever the client sent, and refuses clients the rules cannot place.
func (h *seedRules) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	log := h.log.With("client", cl.ID, "remote", cl.Net.Remote)
	cn, err := commonName(cl)
	if err != nil {
		log.Warn("demo broker refused a client", "reason", err)
		// Mosquitto 2.0 answers "bad user name or password" here.
		return h.turnAway(cl, packets.ErrMalformedUsernameOrPassword, packets.ErrBadUsernameOrPassword)
	}
	if sent := cl.Properties.Username; len(sent) > 0 && !bytes.Equal(sent, []byte(cn)) {
		log.Info("demo broker ignores the username the client sent, as use_identity_as_username does",
			"sent", string(sent), "username", cn)
	}
	cl.Properties.Username = []byte(cn)

	if cl.ID == mqtt.InlineClientId {
		// Taking over this id would cut off the demo's own observer.
		log.Warn("demo broker refused a client", "reason", "client id "+mqtt.InlineClientId+" is reserved")
		return h.turnAway(cl, packets.Err3NotAuthorized, packets.ErrNotAuthorized)
	}
	if will := cl.Properties.Will; will.Flag == 1 && !mayAccess(cn, will.TopicName) {
		// Mosquitto accepts the client and drops such a will when it falls
		// due. Mochi sends wills without asking the ACL, so drop it now.
		log.Warn("demo broker will not deliver the client's will: its topic lies outside the client's topic tree",
			"username", cn, "will_topic", will.TopicName, "allowed", cn+"/#")
		cl.Properties.Will = mqtt.Will{}
	}
	return nil
}

// turnAway sends a refusing CONNACK, with the code for the client's protocol
// version, and ends the connection.
func (h *seedRules) turnAway(cl *mqtt.Client, v3, v5 packets.Code) error {
	reason := v5
	if cl.Properties.ProtocolVersion < 5 {
		reason = v3
	}
	if err := h.refuse(cl, reason, false, nil); err != nil {
		return errors.Join(errRefused, err)
	}
	return errRefused
}

// OnConnectAuthenticate lets in every client OnConnect did not refuse: the
// TLS handshake has verified the certificate, and Mosquitto with
// use_identity_as_username asks for no password.
func (h *seedRules) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

// OnACLCheck decides subscriptions and deliveries, as Mosquitto 2.0 does
// with this ACL: it grants wildcard subscriptions such as "#" and delivers
// only the topics inside the client's tree. Mochi asks here with the filter
// when subscribing and with the topic when delivering; a filter with a
// wildcard is therefore a subscription. A wildcard-free filter outside the
// tree cannot be told from a delivery and is refused in the SUBACK, where
// Mosquitto grants it and then delivers nothing on it.
//
// Publishes are allowed here and judged in OnPublish, because mochi
// disconnects a 3.1.1 client whose publish the ACL denies, where Mosquitto
// acknowledges and drops it.
func (h *seedRules) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if write || strings.ContainsAny(topic, "+#") {
		return true
	}
	return mayAccess(string(cl.Properties.Username), topic)
}

// OnPublish drops a publish outside the client's topic tree the way
// Mosquitto does: acknowledged and not delivered for 3.1.1, answered with
// "not authorized" for MQTT 5.
func (h *seedRules) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	username := string(cl.Properties.Username)
	if cl.Net.Inline || mayAccess(username, pk.TopicName) {
		return pk, nil
	}
	h.log.Warn("demo broker dropped a publish outside the client's topic tree",
		"client", cl.ID, "username", username, "topic", pk.TopicName, "allowed", username+"/#")
	if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos > 0 {
		return pk, packets.ErrNotAuthorized
	}
	return pk, packets.CodeSuccessIgnore
}

// commonName returns the common name of the client certificate the TLS
// handshake verified.
func commonName(cl *mqtt.Client) (string, error) {
	conn, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return "", errors.New("connection is not TLS")
	}
	chains := conn.ConnectionState().VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return "", errors.New("no verified client certificate")
	}
	cn := chains[0][0].Subject.CommonName
	if cn == "" {
		return "", errors.New("client certificate has no common name, which use_identity_as_username needs")
	}
	return cn, nil
}

// mayAccess reports whether the ACL "pattern readwrite %u/#" lets username
// use topic, a topic name or a subscription filter: it must be the username
// itself or lie below it. Like Mosquitto, a username containing a wildcard
// matches nothing, so it cannot widen its own pattern; one containing '/' is
// matched as written, so "Kai/x" may use Kai/x/… (edgepub refuses such a
// device id; names_test.go pins this to what Mosquitto does).
func mayAccess(username, topic string) bool {
	if username == "" || strings.ContainsAny(username, "+#") {
		return false
	}
	return topic == username || strings.HasPrefix(topic, username+"/")
}
