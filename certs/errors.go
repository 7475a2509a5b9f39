package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Kinds of problems, for errors.Is. The error texts themselves are written for
// the person who must fix the files; these let callers branch without parsing
// them. A missing or unreadable file also matches fs.ErrNotExist or
// fs.ErrPermission.
var (
	ErrNoClientCert       = errors.New("no client certificate found")
	ErrSeveralClientCerts = errors.New("several client certificates found")
	ErrNotPEM             = errors.New("not a PEM file")
	ErrWrongPEMType       = errors.New("wrong kind of PEM file")
	ErrEncryptedKey       = errors.New("private key is encrypted")
	ErrKeyMismatch        = errors.New("private key does not match the certificate")
	ErrNotSignedByCA      = errors.New("certificate is not signed by the CA")
	ErrUnusable           = errors.New("certificate cannot be used")
	ErrExpired            = errors.New("certificate has expired")
	ErrNotYetValid        = errors.New("certificate is not valid yet")
)

// problem is an error with a message meant for a person and causes meant for
// errors.Is, so the text stays one clean line while fs.ErrNotExist and the
// kinds above still match.
type problem struct {
	msg    string
	causes []error
}

// Error returns the message for the person.
func (p *problem) Error() string { return p.msg }

// Unwrap returns the causes, for errors.Is and errors.As.
func (p *problem) Unwrap() []error { return p.causes }

func newProblem(kind error, format string, args ...any) error {
	return &problem{msg: fmt.Sprintf(format, args...), causes: []error{kind}}
}

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
			what, e.File, subjectCN(e.Cert), e.Cert.NotBefore.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s %s (%s) expired on %s (%d days ago): issue a new one with the CA and replace the file; edgepub picks it up without a restart",
		what, e.File, subjectCN(e.Cert), e.Cert.NotAfter.UTC().Format(time.RFC3339), -DaysLeft(e.Cert, e.Now))
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
