// Package certs loads and checks the device's TLS files (ca.crt, <name>.crt,
// <name>.key), builds the client tls.Config that verifies the broker against
// ca.crt only, rotates the client pair without a restart, watches expiry,
// generates a small PKI and reports on a certificate directory.
//
// The seed tutorial's openssl commands (`openssl x509 -req` without -extfile)
// make X.509 v1 certificates with the broker's address only in the subject
// common name. Go's crypto/tls refuses those since Go 1.17, so ClientTLSConfig
// does the verification itself: the chain against ca.crt (never the system
// roots), then the subjectAltName if the certificate has one, else the common
// name compared with the configured broker host.
package certs
