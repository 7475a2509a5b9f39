package pki

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// Entry is one line of openssl ca's index.txt: tab-separated status (V, R
// or E), expiry, revocation time with an optional ",reason", serial in hex,
// file name ("unknown") and subject DN ("/CN=Kai").
type Entry struct {
	Status  byte
	Expires time.Time
	Revoked time.Time
	Reason  string
	Serial  *big.Int
	File    string
	Subject string
}

// CN is the common name in the entry's subject.
func (e Entry) CN() string {
	for _, part := range strings.Split(e.Subject, "/") {
		if v, ok := strings.CutPrefix(part, "CN="); ok {
			return v
		}
	}
	return ""
}

// SerialHex is the serial as openssl writes it: upper-case hex, even length.
func SerialHex(n *big.Int) string {
	s := strings.ToUpper(n.Text(16))
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// Revocation reasons as openssl ca spells them (RFC 5280 CRLReason).
var reasonCodes = map[string]int{
	"unspecified": 0, "keyCompromise": 1, "CACompromise": 2, "affiliationChanged": 3,
	"superseded": 4, "cessationOfOperation": 5, "certificateHold": 6,
}

// ReasonNames lists the accepted revocation reasons.
func ReasonNames() []string {
	return []string{"unspecified", "keyCompromise", "CACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold"}
}

// asn1 times as openssl writes them: UTCTime before 2050, else
// GeneralizedTime (RFC 5280 4.1.2.5).
const (
	utcTimeLayout         = "060102150405Z"
	generalizedTimeLayout = "20060102150405Z"
)

func formatIndexTime(t time.Time) string {
	t = t.UTC()
	if t.Year() >= 2050 {
		return t.Format(generalizedTimeLayout)
	}
	return t.Format(utcTimeLayout)
}

func parseIndexTime(s string) (time.Time, error) {
	if len(s) == len(generalizedTimeLayout) {
		return time.Parse(generalizedTimeLayout, s)
	}
	return time.Parse(utcTimeLayout, s)
}

func (e Entry) line() string {
	rev := ""
	if e.Status == 'R' {
		rev = formatIndexTime(e.Revoked)
		if e.Reason != "" {
			rev += "," + e.Reason
		}
	}
	return strings.Join([]string{string(e.Status), formatIndexTime(e.Expires), rev, SerialHex(e.Serial), e.File, e.Subject}, "\t")
}

// indexFile is the database's path.
func (a *Authority) indexFile() string { return filepath.Join(a.Dir, "index.txt") }

// Index reads index.txt; a missing file is an empty database.
func (a *Authority) Index() ([]Entry, error) {
	data, err := os.ReadFile(a.indexFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the CA database: %w", err)
	}
	var entries []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 6 || len(f[0]) != 1 {
			return nil, fmt.Errorf("%s line %d is not an openssl ca index line (6 tab-separated fields): repair or restore the file", a.indexFile(), n)
		}
		e := Entry{Status: f[0][0], File: f[4], Subject: f[5]}
		if e.Expires, err = parseIndexTime(f[1]); err != nil {
			return nil, fmt.Errorf("%s line %d: expiry %q: %w", a.indexFile(), n, f[1], err)
		}
		if f[2] != "" {
			at, reason, _ := strings.Cut(f[2], ",")
			if e.Revoked, err = parseIndexTime(at); err != nil {
				return nil, fmt.Errorf("%s line %d: revocation time %q: %w", a.indexFile(), n, f[2], err)
			}
			e.Reason = reason
		}
		var ok bool
		if e.Serial, ok = new(big.Int).SetString(f[3], 16); !ok {
			return nil, fmt.Errorf("%s line %d: serial %q is not hex", a.indexFile(), n, f[3])
		}
		entries = append(entries, e)
	}
	return entries, sc.Err()
}

// writeIndex replaces index.txt and makes sure index.txt.attr allows
// several certificates per name, as renewal needs (openssl ca's default
// unique_subject = yes would refuse its next signing).
func (a *Authority) writeIndex(entries []Entry) error {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.line())
		b.WriteByte('\n')
	}
	if err := certfile.WriteAtomic(a.indexFile(), []byte(b.String()), 0o600); err != nil {
		return err
	}
	attr := a.indexFile() + ".attr"
	if _, err := os.Stat(attr); errors.Is(err, fs.ErrNotExist) {
		return certfile.WriteAtomic(attr, []byte("unique_subject = no\n"), 0o600)
	}
	return nil
}
