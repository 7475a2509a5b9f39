// Package demobroker runs an MQTT broker inside edgepub for `edgepub demo`,
// so the demo works on a machine with nothing but the edgepub binary: no
// root, no Mosquitto.
//
// The broker enforces what the seed's Mosquitto setup enforces
// (/work/shared/seed/mqtt-tls-mosquitto.md), so that a device configuration
// that works against the demo broker works against the real one:
//
//   - require_certificate true: TLS with a client certificate verified
//     against the configured CA; a connection without one fails in the
//     handshake.
//   - use_identity_as_username true: the client certificate's common name is
//     the MQTT username; a username or password the client sends is ignored.
//   - acl pattern readwrite %u/#: a client may publish to and receive from
//     its own topic tree only, "<CN>" and "<CN>/…".
//
// Where the rules bite, the broker does what Mosquitto 2.0.11 (Debian 12)
// was seen to do with the seed's configuration:
//
//   - A publish outside the tree is dropped but acknowledged, so an MQTT
//     3.1.1 client stays connected and never learns of it; an MQTT 5 client
//     gets PUBACK "not authorized" (0x87).
//   - A subscription with a wildcard, even "#", is granted, and only topics
//     inside the tree are delivered on it. One difference remains: a
//     wildcard-free filter outside the tree, such as "Bob/x", is refused
//     in the SUBACK (0x80) where Mosquitto grants it and delivers nothing.
//   - A will outside the tree does not stop the client from connecting;
//     it is never delivered.
//   - A client certificate without a common name is refused with CONNACK
//     "bad user name or password".
//   - A user name (CN) holding '+' or '#' may publish and receive nothing;
//     one holding '/' is matched as written, so CN "Kai/x" may use Kai/x/…
//     inside Kai's tree. edgepub itself refuses both as a device id.
//
// Every refusal and drop is logged at warning level, because a demo is
// where people learn why their messages do not arrive.
//
// It listens on loopback addresses only: the demo's throwaway certificates
// must never protect anything reachable from the network.
//
// The broker is github.com/mochi-mqtt/server/v2 with the rules above as a
// hook and a TLS listener of our own, which completes the handshake itself so
// that a client stuck in it cannot hold Close up.
package demobroker
