package pki

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// DefaultValidity is the lifetime of issued certificates: 397 days, the
// longest browsers accept, so a yearly renewal has a month of slack.
const DefaultValidity = 397 * 24 * time.Hour

// MaxCSRBytes bounds a request: a CSR with an RSA 4096 key is under 2 KiB.
const MaxCSRBytes = 16 << 10

// Refusal reasons, stable strings for logs and the device's answer.
const (
	RefusedMalformed  = "malformed"
	RefusedTooLarge   = "too_large"
	RefusedSignature  = "bad_signature"
	RefusedName       = "name_mismatch"
	RefusedKeyPolicy  = "weak_key"
	RefusedKeyReused  = "key_reused"
	RefusedRevoked    = "revoked"
	RefusedRateLimit  = "rate_limited"
	RefusedCAProblem  = "ca_error"
	RefusedNotCurrent = "current_cert_invalid"
)

// Refusal is a request the policy turned down.
type Refusal struct {
	Reason string // one of the Refused… constants
	Detail string
}

func (r *Refusal) Error() string { return r.Detail }

func refuse(reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Request is a CSR as it arrived.
type Request struct {
	// Device is the first level of the topic it arrived on: with
	// use_identity_as_username and `pattern readwrite %u/#` only the device
	// with that CN can publish there.
	Device string
	// CSR is PEM or DER.
	CSR []byte
	// Current is the certificate the device uses now, if it sent it; its key
	// must not be reused.
	Current []byte
}

// Issued is a signed certificate.
type Issued struct {
	Cert *x509.Certificate
	// PEM is the certificate followed by the CA chain.
	PEM []byte
}

// Sign checks req against the policy and, if it passes, issues an X.509 v3
// clientAuth certificate with the CN only, valid for validity from now,
// and records it in index.txt and newcerts/. A refusal is a *Refusal.
func (a *Authority) Sign(req Request, validity time.Duration, now time.Time) (*Issued, error) {
	if len(req.CSR) > MaxCSRBytes {
		return nil, refuse(RefusedTooLarge, "the CSR is %d bytes, more than %d", len(req.CSR), MaxCSRBytes)
	}
	der := req.CSR
	if block, _ := pem.Decode(req.CSR); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, refuse(RefusedMalformed, "expected a PEM CERTIFICATE REQUEST, got %q", block.Type)
		}
		der = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, refuse(RefusedMalformed, "the CSR does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, refuse(RefusedSignature, "the CSR's signature is not valid: %v", err)
	}
	if csr.Subject.CommonName != req.Device {
		return nil, refuse(RefusedName, "the CSR asks for CN %q but arrived on %s/certs/csr: a device may only renew its own name", csr.Subject.CommonName, req.Device)
	}
	if err := keyPolicy(csr.PublicKey); err != nil {
		return nil, err
	}
	if validity <= 0 {
		validity = DefaultValidity
	}

	entries, unlock, err := a.lockedIndex()
	if err != nil {
		return nil, err
	}
	defer unlock()
	// A certificate made by hand after the revocation, which index.txt may
	// not know (openssl x509 -req), lets the device renew again.
	readmitted := false
	if len(req.Current) > 0 {
		cur, err := ParseCertificates(req.Current)
		if err != nil {
			return nil, refuse(RefusedMalformed, "the current certificate sent with the CSR: %v", err)
		}
		if cur[0].Subject.CommonName != req.Device {
			return nil, refuse(RefusedNotCurrent, "the current certificate sent with the CSR is for %q, not %s", cur[0].Subject.CommonName, req.Device)
		}
		if certfile.SamePublicKey(cur[0].PublicKey, csr.PublicKey) {
			return nil, refuse(RefusedKeyReused, "the CSR reuses the key of the current certificate (serial %s): make a new key", SerialHex(cur[0].SerialNumber))
		}
		// A certificate of another CA is a device moving to this one: the
		// broker let it in, so only its key counts.
		if cur[0].CheckSignatureFrom(a.Cert) == nil {
			if e := find(entries, cur[0].SerialNumber); e != nil && e.Status == 'R' {
				return nil, refuse(RefusedRevoked, "the current certificate (serial %s) is revoked", SerialHex(cur[0].SerialNumber))
			}
			if r := lastRevocation(entries, req.Device); r != nil && cur[0].NotBefore.After(r.Revoked) && now.Before(cur[0].NotAfter) {
				readmitted = true
			}
		}
	}
	if r := lastRevocation(entries, req.Device); r != nil && !readmitted {
		return nil, refuse(RefusedRevoked, "%s is revoked since %s (serial %s, %s): issue it a certificate by hand to let it renew again", req.Device, r.Revoked.UTC().Format(time.RFC3339), SerialHex(r.Serial), cmp.Or(r.Reason, "unspecified"))
	}
	for _, e := range entries {
		if e.CN() != req.Device {
			continue
		}
		old, err := a.issuedCert(e.Serial)
		if err == nil && certfile.SamePublicKey(old.PublicKey, csr.PublicKey) {
			return nil, refuse(RefusedKeyReused, "the CSR reuses the key of certificate serial %s issued before: make a new key", SerialHex(e.Serial))
		}
	}

	cert, err := a.issue(csr, now, validity)
	if err != nil {
		return nil, refuse(RefusedCAProblem, "%v", err)
	}
	entries = append(entries, Entry{Status: 'V', Expires: cert.NotAfter, Serial: cert.SerialNumber, File: "unknown", Subject: "/CN=" + req.Device})
	if err := a.writeIndex(entries); err != nil {
		return nil, refuse(RefusedCAProblem, "%v", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	for _, c := range a.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return &Issued{Cert: cert, PEM: out}, nil
}

func (a *Authority) issue(csr *x509.CertificateRequest, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	serial.SetBit(serial, 126, 1) // positive, fixed length
	// Backdated a little for devices whose clock lags, at most a tenth of
	// the lifetime so short test certificates stay short; never beyond the
	// CA, whose expiry ends every chain anyway.
	backdate := min(time.Hour, validity/10)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: csr.Subject.CommonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          subjectKeyID(csr.PublicKey),
	}
	if tmpl.NotAfter.After(a.Cert.NotAfter) {
		tmpl.NotAfter = a.Cert.NotAfter
	}
	if _, ok := csr.PublicKey.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, csr.PublicKey, a.key)
	if err != nil {
		return nil, fmt.Errorf("sign the certificate for %s: %w", csr.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(a.Dir, "newcerts")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := certfile.WriteAtomic(a.newcertFile(serial), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return cert, nil
}

// newcertFile is where openssl ca keeps a copy of what it issued.
func (a *Authority) newcertFile(serial *big.Int) string {
	return filepath.Join(a.Dir, "newcerts", SerialHex(serial)+".pem")
}

func (a *Authority) issuedCert(serial *big.Int) (*x509.Certificate, error) {
	data, err := os.ReadFile(a.newcertFile(serial))
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// keyPolicy accepts RSA of at least 2048 bits, ECDSA P-256 and P-384, and
// Ed25519.
func keyPolicy(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return nil
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
	case ed25519.PublicKey:
		return nil
	}
	return refuse(RefusedKeyPolicy, "the CSR's key (%s) is not allowed: use RSA 2048 or more, ECDSA P-256 or P-384, or Ed25519", keyAlgorithm(pub))
}

// lastRevocation returns the revocation of a name whose newest
// certificate in index.txt (the file is in issue order) is revoked other
// than as superseded, so that a stolen device stays cut off until an
// operator issues it a new certificate; else nil.
func lastRevocation(entries []Entry, device string) *Entry {
	var revoked *Entry
	for i, e := range entries {
		if e.CN() != device {
			continue
		}
		switch {
		case e.Status == 'R' && e.Reason != "superseded":
			revoked = &entries[i]
		case e.Status == 'V':
			revoked = nil
		}
	}
	return revoked
}

func find(entries []Entry, serial *big.Int) *Entry {
	for i := range entries {
		if entries[i].Serial.Cmp(serial) == 0 {
			return &entries[i]
		}
	}
	return nil
}

// subjectKeyID is the RFC 5280 method 1 key identifier.
func subjectKeyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha1.Sum(der)
	return sum[:]
}

// ErrNotFound is returned when revoke finds nothing to revoke.
var ErrNotFound = errors.New("no such certificate in the CA database")
