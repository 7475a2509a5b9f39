package certfile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PEM block types seen in the wild.
const (
	PEMCertificate        = "CERTIFICATE"
	PEMRequest            = "CERTIFICATE REQUEST"
	PEMNewRequest         = "NEW CERTIFICATE REQUEST"
	PEMPKCS1              = "RSA PRIVATE KEY"
	PEMSEC1               = "EC PRIVATE KEY"
	PEMPKCS8              = "PRIVATE KEY"
	PEMEncryptedPKCS8     = "ENCRYPTED PRIVATE KEY"
	PEMOpenSSH            = "OPENSSH PRIVATE KEY"
	PEMECParameters       = "EC PARAMETERS"
	PEMTrustedCertificate = "TRUSTED CERTIFICATE"
)

func IsKeyBlock(typ string) bool {
	return typ == PEMPKCS1 || typ == PEMSEC1 || typ == PEMPKCS8 || typ == PEMEncryptedPKCS8 || typ == PEMOpenSSH
}

// ParseCertificates returns every certificate in a PEM file, in file order.
func ParseCertificates(path, what string, data []byte) ([]*x509.Certificate, error) {
	var (
		certs      []*x509.Certificate
		otherTypes []string
		rest       = data
	)
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case PEMCertificate:
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, Problem(ErrNotPEM, "%s %s is damaged: certificate number %d does not parse (%v); copy the file again", what, path, len(certs)+1, err)
			}
			certs = append(certs, c)
		case PEMTrustedCertificate:
			return nil, Problem(ErrWrongPEMType, "%s %s is an OpenSSL \"TRUSTED CERTIFICATE\": convert it with `openssl x509 -in %s -out %s.pem` and use that file", what, path, path, path)
		default:
			otherTypes = append(otherTypes, block.Type)
		}
	}
	if len(certs) > 0 {
		return certs, nil
	}
	for _, typ := range otherTypes {
		switch {
		case IsKeyBlock(typ):
			return nil, Problem(ErrWrongPEMType, "%s %s holds a private key (BEGIN %s), not a certificate: the CA, certificate and key files look mixed up; a certificate starts with -----BEGIN CERTIFICATE-----", what, path, typ)
		case typ == PEMRequest || typ == PEMNewRequest:
			return nil, Problem(ErrWrongPEMType, "%s %s holds a certificate request (.csr), not a certificate: sign it with the CA (`openssl x509 -req -in FILE.csr -CA ca.crt -CAkey ca.key ...`) and use the .crt it writes", what, path)
		}
	}
	if len(otherTypes) > 0 {
		return nil, Problem(ErrWrongPEMType, "%s %s holds %q, not a certificate (-----BEGIN CERTIFICATE-----): copy the right file", what, path, otherTypes[0])
	}
	if _, err := x509.ParseCertificate(data); err == nil {
		return nil, Problem(ErrNotPEM, "%s %s is a binary (DER) certificate, not PEM: convert it with `openssl x509 -inform der -in %s -out %s.pem` and use the .pem", what, path, path, path)
	}
	return nil, Problem(ErrNotPEM, "%s %s is not a PEM certificate (no -----BEGIN CERTIFICATE----- line): copy the right file", what, path)
}

// Key is a private key with how it was stored.
type Key struct {
	Signer   crypto.Signer
	Encoding string // "PKCS#1", "PKCS#8" or "SEC1"
}

// ParsePrivateKey returns the first private key in a PEM file.
func ParsePrivateKey(path, what string, data []byte) (Key, error) {
	var (
		otherTypes []string
		rest       = data
	)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case PEMPKCS1, PEMSEC1, PEMPKCS8:
			if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
				return Key{}, encryptedKeyProblem(path, what)
			}
			return parseKeyBlock(path, what, block)
		case PEMEncryptedPKCS8:
			return Key{}, encryptedKeyProblem(path, what)
		case PEMOpenSSH:
			return Key{}, Problem(ErrWrongPEMType, "%s %s is an OpenSSH key, not a TLS key: use the key made with openssl together with the certificate", what, path)
		case PEMECParameters:
			// `openssl ecparam -genkey` writes the curve before the key.
		default:
			otherTypes = append(otherTypes, block.Type)
		}
	}
	for _, typ := range otherTypes {
		if typ == PEMCertificate {
			return Key{}, Problem(ErrWrongPEMType, "%s %s holds a certificate, not a private key: the certificate and key files look mixed up; a key starts with -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY)", what, path)
		}
		if typ == PEMRequest || typ == PEMNewRequest {
			return Key{}, Problem(ErrWrongPEMType, "%s %s holds a certificate request (.csr), not a private key: use the .key file the request was made from", what, path)
		}
	}
	if len(otherTypes) > 0 {
		return Key{}, Problem(ErrWrongPEMType, "%s %s holds %q, not a private key: copy the right file", what, path, otherTypes[0])
	}
	return Key{}, Problem(ErrNotPEM, "%s %s is not a PEM private key (no -----BEGIN PRIVATE KEY----- line): copy the right file, or convert a binary key with `openssl pkey -inform der -in %s -out %s.pem`", what, path, path, path)
}

func encryptedKeyProblem(path, what string) error {
	return Problem(ErrEncryptedKey, "%s %s is protected by a passphrase, which a service cannot type: decrypt it once with `openssl pkey -in %s -out %s.new && mv %s.new %s && chmod 600 %s` (never -out onto the same file: OpenSSL 3 empties it)",
		what, path, path, path, path, path, path)
}

func parseKeyBlock(path, what string, block *pem.Block) (Key, error) {
	var (
		key      any
		err      error
		encoding string
	)
	switch block.Type {
	case PEMPKCS1:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		encoding = "PKCS#1"
	case PEMSEC1:
		key, err = x509.ParseECPrivateKey(block.Bytes)
		encoding = "SEC1"
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		encoding = "PKCS#8"
	}
	if err != nil {
		return Key{}, Problem(ErrNotPEM, "%s %s is damaged or of an unknown kind (%v): copy the file again", what, path, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return Key{Signer: k.(crypto.Signer), Encoding: encoding}, nil
	}
	return Key{}, Problem(ErrWrongPEMType, "%s %s holds a %T, which cannot sign TLS handshakes: use an RSA, ECDSA or Ed25519 key", what, path, key)
}

// KeyDescription is "RSA 2048", "ECDSA P-256" or "Ed25519".
func KeyDescription(pub crypto.PublicKey) (typ string, bits int) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name, k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return fmt.Sprintf("%T", pub), 0
}

// SamePublicKey reports whether two public keys are equal.
func SamePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// SubjectCN names a certificate briefly for messages, escaped: it may come
// from a peer that has not been verified.
func SubjectCN(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return "CN=" + Printable(c.Subject.CommonName)
	}
	return Printable(c.Subject.String())
}

// IssuerCN names a certificate's issuer briefly for messages, escaped.
func IssuerCN(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return "CN=" + Printable(c.Issuer.CommonName)
	}
	return Printable(c.Issuer.String())
}

// Printable returns s with every character that is not printable (newline,
// terminal escape, bidi override, invalid UTF-8) written as a Go escape, so
// that certificate text cannot forge log lines or drive the terminal.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}
