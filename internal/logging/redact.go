package logging

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/tls"
	"log/slog"
	"strings"
)

// redacted replaces the value of an attribute that must not be logged. The
// attribute stays, so a reader still sees that something was there.
const redacted = "REDACTED"

// redact guards against private key material reaching a log by mistake:
// an attribute named key, *_key, *private*, *secret*, *password* or
// *passphrase*, or one whose value is a private key, a tls.Certificate
// (it carries its key) or a PEM private key block. Name paths *_file or
// *_path so they stay readable (key_file=/home/kai/mqtt-certs/Kai.key).
func redact(a slog.Attr) slog.Attr {
	if secretName(a.Key) || secretValue(a.Value) {
		return slog.String(a.Key, redacted)
	}
	return a
}

func secretName(name string) bool {
	n := strings.ToLower(name)
	return n == "key" || strings.HasSuffix(n, "_key") ||
		strings.Contains(n, "private") || strings.Contains(n, "secret") ||
		strings.Contains(n, "password") || strings.Contains(n, "passphrase")
}

// pemKeyMarker appears in every PEM private key block: "-----BEGIN PRIVATE
// KEY-----", "-----BEGIN RSA PRIVATE KEY-----", "…EC PRIVATE KEY…".
const pemKeyMarker = "PRIVATE KEY-----"

func secretValue(v slog.Value) bool {
	switch v.Kind() {
	case slog.KindString:
		return strings.Contains(v.String(), pemKeyMarker)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case []byte:
			return bytes.Contains(x, []byte(pemKeyMarker))
		case tls.Certificate, *tls.Certificate, *ecdh.PrivateKey:
			return true
		case crypto.Signer, crypto.Decrypter:
			// Every private key type of the standard library is one of
			// these; public keys and certificates are neither.
			return true
		}
	}
	return false
}
