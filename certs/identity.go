package certs

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// CheckIdentity returns why cn cannot be a device id, or nil. The CN is the
// MQTT user name and the first topic level of everything the device
// publishes (ACL `pattern readwrite %u/#`), so it must be one safe topic
// level: Mosquitto refuses every ACL match for a user name with '+' or '#',
// and a '/' puts the device's tree inside another device's (CN "Kai/x" may
// write below Kai/). A leading '$' makes a system topic that '#' never
// matches.
func CheckIdentity(cn string) error {
	switch {
	case cn == "":
		return fmt.Errorf("it is empty")
	case !utf8.ValidString(cn):
		return fmt.Errorf("it is not valid UTF-8, which MQTT topics and user names must be")
	case strings.HasPrefix(cn, "$"):
		return fmt.Errorf("it starts with '$', which makes its topics system topics that subscribers to '#' never see")
	}
	for _, r := range cn {
		switch {
		case r == '/':
			return fmt.Errorf("it contains '/', which lets it publish inside another device's topics (it may write below %q)", cn[:strings.IndexByte(cn, '/')]+"/")
		case r == '+' || r == '#':
			return fmt.Errorf("it contains the MQTT wildcard %q, for which Mosquitto denies every topic", r)
		case unicode.IsControl(r):
			return fmt.Errorf("it contains the control character %U", r)
		}
	}
	return nil
}

// Printable returns s with characters that are not printable written as Go
// escapes: for text from certificates, which anyone may have issued, on its
// way to a terminal or a log.
func Printable(s string) string { return certfile.Printable(s) }
