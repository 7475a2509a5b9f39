package config

import (
	"strings"
	"testing"
)

func TestSetScalar(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"replace, keeping comments",
			"# top\ncerts:\n  # the folder\n  dir: /home/kai/mqtt-certs   # tutorial\n  ca: ca.crt\n",
			"# top\ncerts:\n  # the folder\n  dir: /home/anna/certs # tutorial\n  ca: ca.crt\n"},
		{"quoted old value", "certs:\n  dir: \"/old\"\n", "certs:\n  dir: /home/anna/certs\n"},
		{"key missing in section", "certs:\n    ca: ca.crt\n", "certs:\n    dir: /home/anna/certs\n    ca: ca.crt\n"},
		{"section missing", "broker:\n  urls: [ssl://x]\n", "broker:\n  urls: [ssl://x]\n\ncerts:\n  dir: /home/anna/certs\n"},
		{"empty file", "", "certs:\n  dir: /home/anna/certs\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetScalar([]byte(tc.in), "certs.dir", "/home/anna/certs")
			if err != nil || string(got) != tc.want {
				t.Errorf("got %q, %v\nwant %q", got, err, tc.want)
			}
		})
	}
	// The packaged sample: only the one line changes, and it parses.
	got, err := SetScalar([]byte(Example), "certs.dir", "/home/anna/my certs")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(strings.NewReader(string(got)))
	if err != nil || cfg.Certs.Dir != "/home/anna/my certs" {
		t.Errorf("%v, dir %q", err, cfg.Certs.Dir)
	}
	if a, b := strings.Split(Example, "\n"), strings.Split(string(got), "\n"); len(a) != len(b) {
		t.Errorf("line count changed: %d -> %d", len(a), len(b))
	}
	if _, err := SetScalar([]byte("certs: {dir: /x}\n"), "certs.dir", "/y"); err == nil {
		t.Error("a flow mapping was edited")
	}
}
