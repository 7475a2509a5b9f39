// Package certfile reads the certificate and key files of a folder with
// errors worded for the person who must fix them, and knows how certificates
// chain; certs, certs/pki and certs/inspect share it.
package certfile

import (
	"errors"
	"fmt"
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

// Problem returns an error of the given kind with a message for a person.
func Problem(kind error, format string, args ...any) error {
	return &problem{msg: fmt.Sprintf(format, args...), causes: []error{kind}}
}

// ProblemWith returns an error with message msg that matches every cause.
func ProblemWith(msg string, causes ...error) error {
	return &problem{msg: msg, causes: causes}
}
