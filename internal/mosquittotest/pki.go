// Package mosquittotest runs a real Mosquitto from Debian's package for
// integration tests, set up exactly as the tutorial describes: a private CA
// made with openssl (internal/tutorialpki), a TLS listener with
// require_certificate and use_identity_as_username, and ACLs by CN.
package mosquittotest

import (
	"testing"

	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// NewSeedPKI makes, with the tutorial's commands, ca.crt, server.crt
// (CN=serverHost) and one certificate per client name in a temporary
// directory, plus "monitor", the read-all subscriber the harness uses.
func NewSeedPKI(t testing.TB, serverHost string, clients ...string) *tutorialpki.PKI {
	t.Helper()
	return tutorialpki.New(t, "", tutorialpki.Opts{ServerCN: serverHost, Clients: append([]string{"monitor"}, clients...)})
}
