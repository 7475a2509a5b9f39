package pki

import (
	"crypto"
	"crypto/ecdsa"
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
	"net"
	"strings"
	"time"

	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// KeyType selects the kind of key generated for new certificates.
type KeyType string

// Key types. ECDSA P-256 is the default: small, fast on a Pi, and accepted by
// mosquitto and every MQTT client library.
const (
	KeyECDSAP256 KeyType = "ecdsa-p256"
	KeyECDSAP384 KeyType = "ecdsa-p384"
	KeyRSA2048   KeyType = "rsa-2048"
	KeyRSA4096   KeyType = "rsa-4096"
)

// Lifetimes as in the tutorial (-days 1825 and -days 825).
const (
	CALifetime   = 1825 * 24 * time.Hour
	LeafLifetime = 825 * 24 * time.Hour
)

// backdate starts validity a little before now so that a device whose clock
// runs slightly behind the issuing machine accepts a fresh certificate.
const backdate = time.Hour

// DefaultCAName is the CA's common name, as in the tutorial.
const DefaultCAName = "MQTT-CA"

// generateKey makes a new private key of type t (empty means KeyECDSAP256).
func generateKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case "", KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, fmt.Errorf("unknown key type %q: use %s, %s, %s or %s", t, KeyECDSAP256, KeyECDSAP384, KeyRSA2048, KeyRSA4096)
}

// CA issues certificates. It is safe for concurrent use; issuing an ECDSA
// client certificate takes well under a millisecond, so fleets of test
// devices can be made on the fly.
type CA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// KeyType is used for the keys of issued certificates.
	KeyType KeyType

	key crypto.Signer
}

// NewCA makes a self-signed CA named name (empty: DefaultCAName), valid for
// CALifetime from now.
func NewCA(name string, keyType KeyType, now time.Time) (*CA, error) {
	if name == "" {
		name = DefaultCAName
	}
	return newCA(name, keyType, now, nil)
}

// newCA makes a CA certificate signed by parent, or self-signed when parent
// is nil. An intermediate may not sign further CAs.
func newCA(name string, keyType KeyType, now time.Time, parent *CA) (*CA, error) {
	key, err := generateKey(keyType)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        parent != nil,
		SubjectKeyId:          keyID(key.Public()),
	}
	issuer, signer, what := tmpl, key, "CA"
	if parent != nil {
		issuer, signer, what = parent.Cert, parent.key, "intermediate CA"
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("create %s certificate: %w", what, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new %s certificate: %w", what, err)
	}
	return &CA{Cert: cert, KeyType: keyType, key: key}, nil
}

// LoadCA reads a CA certificate and its private key, e.g. ca.crt and the
// ca.key kept off the device, to issue more certificates.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certData, err := certfile.Read(certFile, "CA certificate", "")
	if err != nil {
		return nil, err
	}
	certs, err := certfile.ParseCertificates(certFile, "CA certificate", certData)
	if err != nil {
		return nil, err
	}
	keyData, err := certfile.Read(keyFile, "CA key", "")
	if err != nil {
		return nil, err
	}
	key, err := certfile.ParsePrivateKey(keyFile, "CA key", keyData)
	if err != nil {
		return nil, err
	}
	if !certfile.IsCA(certs[0]) {
		return nil, certfile.Problem(certfile.ErrWrongPEMType, "CA certificate %s (%s) is not a CA certificate: use the CA's ca.crt", certFile, certfile.SubjectCN(certs[0]))
	}
	if !certfile.SamePublicKey(certs[0].PublicKey, key.Signer.Public()) {
		return nil, certfile.Problem(certfile.ErrKeyMismatch, "CA key %s does not match CA certificate %s (%s): use the ca.key made together with this ca.crt", keyFile, certFile, certfile.SubjectCN(certs[0]))
	}
	return &CA{Cert: certs[0], KeyType: keyTypeOf(key.Signer.Public()), key: key.Signer}, nil
}

// CertPEM returns the CA certificate in PEM form (the content of ca.crt).
func (ca *CA) CertPEM() []byte { return encodeCert(ca.Cert.Raw) }

// KeyPEM returns the CA's private key in PKCS#8 PEM form.
func (ca *CA) KeyPEM() ([]byte, error) { return encodeKey(ca.key) }

// IssueRequest describes a certificate to issue.
type IssueRequest struct {
	// CommonName is the subject CN: the device name for a client, the host
	// for a server.
	CommonName string
	// Server makes a serverAuth certificate with Hosts as subjectAltNames;
	// otherwise a clientAuth certificate.
	Server bool
	// Hosts are IP addresses or DNS names for a server certificate.
	Hosts []string
	// NotBefore and NotAfter; zero values mean now−1h and NotBefore+1h+825 days.
	NotBefore, NotAfter time.Time
	// KeyType of the new key; empty means the CA's KeyType.
	KeyType KeyType
	// Key, if set, is used instead of generating one (benchmarks reuse a key).
	Key crypto.Signer
}

// Issue makes a key and a certificate signed by the CA and returns both in
// PEM form (certificate, then PKCS#8 key).
func (ca *CA) Issue(req IssueRequest) (certPEM, keyPEM []byte, err error) {
	if req.CommonName == "" {
		return nil, nil, errors.New("a certificate needs a common name")
	}
	key := req.Key
	if key == nil {
		t := req.KeyType
		if t == "" {
			t = ca.KeyType
		}
		if key, err = generateKey(t); err != nil {
			return nil, nil, err
		}
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notBefore, notAfter := req.NotBefore, req.NotAfter
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-backdate)
	}
	if notAfter.IsZero() {
		notAfter = notBefore.Add(backdate + LeafLifetime)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.CommonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(key.Public()),
	}
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment // TLS 1.2 RSA key exchange
	}
	if req.Server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range req.Hosts {
			if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate for %s: %w", req.CommonName, err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

// IssueClient makes a client certificate for the device name (its CN, MQTT
// user name and client id), valid for 825 days from now.
func (ca *CA) IssueClient(name string, now time.Time) (certPEM, keyPEM []byte, err error) {
	return ca.Issue(IssueRequest{CommonName: name, NotBefore: now.Add(-backdate), NotAfter: now.Add(LeafLifetime)})
}

// IssueServer makes the broker's certificate for host (IP address or DNS
// name, as subjectAltName and as CN for old clients), valid for 825 days.
func (ca *CA) IssueServer(host string, now time.Time) (certPEM, keyPEM []byte, err error) {
	host = strings.Trim(host, "[]")
	return ca.Issue(IssueRequest{CommonName: host, Server: true, Hosts: []string{host}, NotBefore: now.Add(-backdate), NotAfter: now.Add(LeafLifetime)})
}

// newSerial returns a random positive 127-bit serial number; Go rejects
// negative serials and RFC 5280 caps them at 20 bytes.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// keyID is the RFC 5280 method 1 key identifier (SHA-1 of the public key).
func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha1.Sum(der)
	return sum[:]
}

func keyTypeOf(pub crypto.PublicKey) KeyType {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() > 2048 {
			return KeyRSA4096
		}
		return KeyRSA2048
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return KeyECDSAP384
		}
	}
	return KeyECDSAP256
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: certfile.PEMCertificate, Bytes: der})
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: certfile.PEMPKCS8, Bytes: der}), nil
}

// IssueIntermediate makes a subordinate CA signed by ca, valid for
// CALifetime from now, for setups (and tests) with a chain.
func (ca *CA) IssueIntermediate(name string, now time.Time) (*CA, error) {
	return newCA(name, ca.KeyType, now, ca)
}
