package certfile

import (
	"crypto/x509"
	"fmt"
	"strings"
)

// SignaturePath follows signatures from leaf through intermediates to a
// certificate of roots, ignoring time, so that "not signed by the CA" and
// "expired" are told apart. ok is false when no root is reached; the path
// then ends at the last certificate whose issuer was not found.
func SignaturePath(leaf *x509.Certificate, intermediates, roots []*x509.Certificate) ([]*x509.Certificate, bool) {
	path := []*x509.Certificate{leaf}
	cur := leaf
	for range 8 {
		for _, r := range roots {
			if cur.Equal(r) && len(path) > 1 {
				return path, true
			}
			if cur.CheckSignatureFrom(r) == nil {
				return append(path, r), true
			}
		}
		next := (*x509.Certificate)(nil)
		for _, c := range intermediates {
			if !ContainsCert(path, c) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			return path, false
		}
		path = append(path, next)
		cur = next
	}
	return path, false
}

// IsSelfSigned reports whether c names itself as issuer and its own key
// signed it.
func IsSelfSigned(c *x509.Certificate) bool {
	return string(c.RawSubject) == string(c.RawIssuer) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// IsCA accepts what may sign others: a certificate marked CA, or an old
// v1 self-signed root that has no extensions to mark it.
func IsCA(c *x509.Certificate) bool {
	if c.BasicConstraintsValid {
		return c.IsCA
	}
	return IsSelfSigned(c)
}

func ContainsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

func ExtKeyUsageNames(usages []x509.ExtKeyUsage) string {
	if len(usages) == 0 {
		return "none"
	}
	names := make([]string, 0, len(usages))
	for _, u := range usages {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			names = append(names, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			names = append(names, "clientAuth")
		case x509.ExtKeyUsageAny:
			names = append(names, "any")
		case x509.ExtKeyUsageCodeSigning:
			names = append(names, "codeSigning")
		case x509.ExtKeyUsageEmailProtection:
			names = append(names, "emailProtection")
		default:
			names = append(names, fmt.Sprintf("usage%d", u))
		}
	}
	return strings.Join(names, ",")
}
