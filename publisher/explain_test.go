package publisher

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// The error texts are those Go's net and crypto/tls packages and paho
// produce (a TLS alert from the peer reads "remote error: tls: <alert>",
// RFC 8446 section 6.2 names the alerts).
func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{packets.ErrorRefusedNotAuthorised, "use_identity_as_username"},
		{fmt.Errorf("connect: %w", packets.ErrorRefusedBadUsernameOrPassword), "ACL for its CN"},
		{packets.ErrorRefusedIDRejected, "client id"},
		{errors.New("remote error: tls: certificate required"), "refused this device's certificate"},
		{errors.New("remote error: tls: unknown certificate authority"), "cafile"},
		{errors.New("read tcp 127.0.0.1:4242->127.0.0.1:8883: read: connection reset by peer"), "closed the connection"},
		{errors.New("dial tcp 127.0.0.1:8883: connect: connection refused"), "listener"},
		{errors.New("dial tcp 192.0.2.1:8883: i/o timeout"), "firewall"},
		{errors.New("dial tcp 192.0.2.1:8883: connect: no route to host"), "firewall"},
		{errors.New("broker certificate is for broker.example, not for host 127.0.0.1: set the broker host"), ""},
	} {
		got := Explain(tc.err)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("Explain(%q) = %q, want it to mention %q", tc.err, got, tc.want)
		}
	}
}
