package certs

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// Kinds of problems, for errors.Is. The error texts themselves are written for
// the person who must fix the files; these let callers branch without parsing
// them. A missing or unreadable file also matches fs.ErrNotExist or
// fs.ErrPermission.
var (
	ErrNoClientCert       = certfile.ErrNoClientCert
	ErrSeveralClientCerts = certfile.ErrSeveralClientCerts
	ErrNotPEM             = certfile.ErrNotPEM
	ErrWrongPEMType       = certfile.ErrWrongPEMType
	ErrEncryptedKey       = certfile.ErrEncryptedKey
	ErrKeyMismatch        = certfile.ErrKeyMismatch
	ErrNotSignedByCA      = certfile.ErrNotSignedByCA
	ErrUnusable           = certfile.ErrUnusable
	ErrExpired            = certfile.ErrExpired
	ErrNotYetValid        = certfile.ErrNotYetValid
)

// ValidityError reports a certificate that is fine except that now lies
// outside its validity period. Load returns it together with a usable Bundle:
// an expired client certificate must not stop the daemon, which keeps
// queueing readings until a renewed certificate is picked up by Source.Reload,
// and a "not yet valid" one usually means the clock is not set yet (a
// Raspberry Pi has no real-time clock and starts with a stale time until NTP
// syncs), which fixes itself without touching the files.
type ValidityError struct {
	// Which is "client", "intermediate" or "ca".
	Which string
	// File is the file the certificate came from.
	File string
	// Cert is the certificate outside its validity period.
	Cert *x509.Certificate
	// Now is the time the certificate was checked at.
	Now time.Time
}

// NotYetValid reports whether Now is before the certificate's NotBefore
// (rather than after its NotAfter).
func (e *ValidityError) NotYetValid() bool { return e.Now.Before(e.Cert.NotBefore) }

// Error says which certificate, when, and what to do.
func (e *ValidityError) Error() string {
	what := describeWhich(e.Which)
	if e.NotYetValid() {
		return fmt.Sprintf("%s %s (%s) is not valid before %s, but the clock says %s: if the clock is wrong (a Pi without RTC before NTP sync) wait for time sync, else the certificate was issued with a future start date",
			what, e.File, certfile.SubjectCN(e.Cert), e.Cert.NotBefore.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s %s (%s) expired on %s (%d days ago): issue a new one with the CA and replace the file; edgepub picks it up without a restart",
		what, e.File, certfile.SubjectCN(e.Cert), e.Cert.NotAfter.UTC().Format(time.RFC3339), -DaysLeft(e.Cert, e.Now))
}

// Is makes errors.Is(err, ErrExpired) and errors.Is(err, ErrNotYetValid) work.
func (e *ValidityError) Is(target error) bool {
	if e.NotYetValid() {
		return target == ErrNotYetValid
	}
	return target == ErrExpired
}

func describeWhich(which string) string {
	switch which {
	case "client":
		return "client certificate"
	case "intermediate":
		return "intermediate CA certificate"
	case "ca":
		return "CA certificate"
	case "broker":
		return "broker certificate"
	}
	return which + " certificate"
}

// checkValidity returns a *ValidityError when now lies outside c's validity.
func checkValidity(which, file string, c *x509.Certificate, now time.Time) *ValidityError {
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return &ValidityError{Which: which, File: file, Cert: c, Now: now}
	}
	return nil
}

// DaysLeft is the number of whole days from now until c expires: 0 on its
// last day, negative once expired (-1 during the first day after NotAfter).
func DaysLeft(c *x509.Certificate, now time.Time) int {
	return daysUntil(c.NotAfter, now)
}

func daysUntil(t, now time.Time) int {
	d := t.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days-- // floor, not truncation towards zero
	}
	return days
}
