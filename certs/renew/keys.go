package renew

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
)

// newKeyLike makes a key of kind, or of the same kind as pub when kind is
// empty (RSA of the same size, at least 2048 bits).
func newKeyLike(pub crypto.PublicKey, kind string) (crypto.Signer, error) {
	if kind == "" {
		switch k := pub.(type) {
		case *rsa.PublicKey:
			return rsa.GenerateKey(rand.Reader, max(2048, k.N.BitLen()))
		case *ecdsa.PublicKey:
			if k.Curve == elliptic.P384() {
				kind = "ecdsa-p384"
			}
		case ed25519.PublicKey:
			kind = "ed25519"
		}
	}
	switch kind {
	case "", "ecdsa-p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa-2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "rsa-4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("certs.renew_key_type %q is not known: use ecdsa-p256, ecdsa-p384, rsa-2048, rsa-4096 or ed25519", kind)
}

// makeCSR returns a PEM certificate request with the CN only.
func makeCSR(cn string, key crypto.Signer) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		return nil, fmt.Errorf("make the certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode the new key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
