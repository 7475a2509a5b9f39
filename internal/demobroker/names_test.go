package demobroker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/mosquittotest"
)

// unsafeNameCases are user names (certificate CNs) that edgepub refuses as a
// device id, with where each may publish under "pattern readwrite %u/#".
// Mosquitto denies every ACL match for a user name holding '+' or '#'
// (security_default.c, "dangerous username"), but not for one holding '/':
// "Kai/x" may publish below Kai's tree. Without that denial, user name "+"
// would make the pattern "+/#" and reach every device's tree. The demo
// broker must do the same.
var unsafeNameCases = []struct {
	file, cn, topic string
	delivered       bool
}{
	{"slash", "Kai/x", "Kai/x/t", true},
	{"slash-outside", "Kai/x", "Kai/t", false},
	{"plus", "+", "Bob/t", false},
	{"hash", "#", "Bob/u", false},
}

func TestUnsafeUserNamesAsMosquitto(t *testing.T) {
	f := startFixture(t)
	o := observe(t, f.broker)
	for _, tc := range unsafeNameCases {
		c := connect(t, f.clientOpts(t, "dev-"+tc.file, f.ca.clientCert(t, tc.cn)))
		publish(t, c, tc.topic, 1, tc.file)
		c.Disconnect(100)
	}
	kai := connect(t, f.clientOpts(t, "kai", f.ca.clientCert(t, "Kai")))
	publish(t, kai, "Kai/marker", 1, "")
	o.waitTopic(t, "Kai/marker")
	for _, tc := range unsafeNameCases {
		if _, got := o.find(tc.topic); got != tc.delivered {
			t.Errorf("user name %q publishing on %s: delivered %v, Mosquitto delivers %v", tc.cn, tc.topic, got, tc.delivered)
		}
	}
}

// TestUnsafeUserNamesMosquittoReference runs the same cases against a real
// Mosquitto, so that the table above states what Mosquitto does.
func TestUnsafeUserNamesMosquittoReference(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	for _, tc := range unsafeNameCases {
		if tc.file != "slash-outside" {
			// openssl's -subj starts an RDN at '/' and joins one at '+'.
			cn := strings.NewReplacer("/", `\/`, "+", `\+`).Replace(tc.cn)
			pki.AddClientValidity(t, tc.file, cn, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
		}
	}
	b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki})
	sub := b.Subscribe(t, "#", mosquittotest.SubOpts{})
	defer sub.Stop()
	for _, tc := range unsafeNameCases {
		file := tc.file
		if file == "slash-outside" {
			file = "slash"
		}
		if out, err := b.Publish(t, file, tc.topic, tc.file); err != nil {
			t.Fatalf("mosquitto_pub as %q: %v\n%s", tc.cn, err, out)
		}
	}
	if out, err := b.Publish(t, "Kai", "Kai/marker", ""); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	msgs := sub.WaitFor(10*time.Second, "Kai/marker", func(m []mosquittotest.Message) bool {
		return slices.ContainsFunc(m, func(m mosquittotest.Message) bool { return m.Topic == "Kai/marker" })
	})
	for _, tc := range unsafeNameCases {
		got := slices.ContainsFunc(msgs, func(m mosquittotest.Message) bool { return m.Topic == tc.topic })
		if got != tc.delivered {
			t.Errorf("Mosquitto, user name %q publishing on %s: delivered %v, the table says %v", tc.cn, tc.topic, got, tc.delivered)
		}
	}
}
