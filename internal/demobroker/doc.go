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
//   - acl pattern readwrite %u/#: a client may publish and subscribe only to
//     its own topic tree, "<CN>" and "<CN>/…". A publish outside it is
//     dropped but, as Mosquitto does for MQTT 3.1.1, still acknowledged, so
//     the client is not disconnected; an MQTT 5 client gets the reason code
//     "not authorized". A subscription outside it is refused in the SUBACK,
//     and a will outside it refuses the connection.
//
// It listens on loopback addresses only: the demo's throwaway certificates
// must never protect anything reachable from the network.
//
// The broker is github.com/mochi-mqtt/server/v2 with the rules above as a
// hook and a TLS listener of our own, which completes the handshake itself so
// that a client stuck in it cannot hold Close up.
package demobroker
