// Package certs loads and checks the device's TLS files (ca.crt, <name>.crt,
// <name>.key), builds the client tls.Config that verifies the broker against
// ca.crt only, rotates the client pair without a restart and watches expiry.
// Making certificates is certs/pki's job, reporting on a folder certs/inspect's.
//
// The tutorial's openssl commands (`openssl x509 -req` without -extfile)
// make X.509 v1 certificates with the broker's address only in the subject
// common name. Go's crypto/tls refuses those since Go 1.17, so ClientTLSConfig
// does the verification itself: the chain against ca.crt (never the system
// roots), then the subjectAltName if the certificate has one, else the common
// name compared with the configured broker host.
//
// # Wiring in the daemon
//
// Load returns one-line errors naming the file and the fix. When the files
// are consistent but a certificate is outside its validity period (expired,
// or not yet valid because a Pi without real-time clock has not synced NTP
// yet), Load returns the Bundle together with a *ValidityError: log it and
// keep running with that bundle, so readings are queued and a renewed
// certificate (or the synced clock) is picked up without a restart. Any
// other error returns no Bundle and should stop the daemon.
//
// NewSource holds the bundle; ClientTLSConfig takes the client pair from it
// at every handshake; Source.Watch (and Source.Reload on SIGHUP) swap in
// replaced files and keep the old pair while the new files are incomplete or
// broken. An ExpiryWatcher fed by TLSOpts.OnServerCert logs certificates that
// expire soon and gives the days left for the device status.
package certs
