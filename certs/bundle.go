package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// Bundle is a checked set of the device's TLS files.
type Bundle struct {
	// Dir is the certificate directory (absolute).
	Dir string
	// CAFile, CertFile and KeyFile are the absolute paths the bundle was read from.
	CAFile, CertFile, KeyFile string
	// Roots holds only the certificates of CAFile, never the system roots.
	Roots *x509.CertPool
	// CA is every certificate of CAFile, in file order.
	CA []*x509.Certificate
	// Client is the client pair, with Leaf set and any intermediates of
	// CertFile in its chain.
	Client tls.Certificate
	// Chain is the path from the client leaf to the certificate of CAFile
	// that signs it, both included.
	Chain []*x509.Certificate
	// Identity is the client leaf's subject common name: the device id, MQTT
	// client id and (with use_identity_as_username) the MQTT user name.
	Identity string
	// Warnings are hygiene problems that do not stop the bundle from working.
	Warnings []Warning

	fingerprint [sha256.Size]byte
}

// Leaf returns the client certificate.
func (b *Bundle) Leaf() *x509.Certificate { return b.Client.Leaf }

// chainValidity returns a *ValidityError when now lies outside the validity of the
// client certificate or of a certificate on its chain, or nil.
func (b *Bundle) chainValidity(now time.Time) error {
	for i, c := range b.Chain {
		which, file := "intermediate", b.CertFile
		switch {
		case i == 0:
			which = "client"
		case i == len(b.Chain)-1:
			which, file = "ca", b.CAFile
		}
		if ve := checkValidity(which, file, c, now); ve != nil {
			return ve
		}
	}
	return nil
}

// Load reads and checks the bundle in dir. Every problem is one line naming
// the file and the fix.
//
// When the files are consistent and the only problem is that now lies outside
// the validity of the client certificate or its chain, Load returns BOTH the
// Bundle and a *ValidityError (errors.Is ErrExpired or ErrNotYetValid). The
// daemon should then keep running with that bundle (queue readings, let
// Source.Watch pick up a renewed certificate, let the clock sync) instead of
// exiting. For every other error the Bundle is nil.
func Load(dir string, names Names, now time.Time) (*Bundle, error) {
	n, err := Discover(dir, names)
	if err != nil {
		return nil, err
	}
	b := &Bundle{CAFile: n.CA, CertFile: n.Cert, KeyFile: n.Key}
	b.Dir = absDir(dir)

	caData, err := certfile.Read(n.CA, "CA certificate", "certs.ca")
	if err != nil {
		return nil, err
	}
	b.CA, err = certfile.ParseCertificates(n.CA, "CA certificate", caData)
	if err != nil {
		return nil, err
	}
	for _, c := range b.CA {
		if !certfile.IsCA(c) {
			return nil, certfile.Problem(ErrWrongPEMType, "CA certificate %s holds %s issued by %s, which is not a CA certificate: it looks like a client or server certificate; copy the broker's ca.crt there", n.CA, certfile.SubjectCN(c), certfile.IssuerCN(c))
		}
	}
	b.Roots = x509.NewCertPool()
	for _, c := range b.CA {
		b.Roots.AddCert(c)
	}

	certData, err := certfile.Read(n.Cert, "client certificate", "certs.cert")
	if err != nil {
		return nil, err
	}
	certs, err := certfile.ParseCertificates(n.Cert, "client certificate", certData)
	if err != nil {
		return nil, err
	}
	leaf := certs[0]
	if leaf.IsCA || certfile.ContainsCert(b.CA, leaf) {
		return nil, certfile.Problem(ErrWrongPEMType, "client certificate %s holds the CA certificate %s, not a client certificate: the CA and client files look mixed up; copy the device's own <name>.crt there", n.Cert, certfile.SubjectCN(leaf))
	}
	if leaf.Subject.CommonName == "" {
		return nil, certfile.Problem(ErrUnusable, "client certificate %s has no common name (CN): the broker uses the CN as user name (use_identity_as_username); reissue it with -subj \"/CN=<device name>\"", n.Cert)
	}
	if err := CheckIdentity(leaf.Subject.CommonName); err != nil {
		return nil, certfile.Problem(ErrUnusable, "client certificate %s has the common name %s, which cannot be a device id: %v; reissue it with a CN of letters, digits, '.', '_' and '-' (-subj \"/CN=<device name>\")", n.Cert, strconv.QuoteToASCII(leaf.Subject.CommonName), err)
	}

	keyData, err := certfile.Read(n.Key, "client key", "certs.key")
	if err != nil {
		return nil, err
	}
	key, err := certfile.ParsePrivateKey(n.Key, "client key", keyData)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(n.Key); err == nil && st.Mode().Perm()&0o022 != 0 {
		return nil, certfile.Problem(ErrUnusable, "client key %s can be written by group or others (mode %04o): anyone who can change it can take over or break this device's identity; run `chmod 600 %s` and check who else wrote it", n.Key, st.Mode().Perm(), n.Key)
	}
	if !certfile.SamePublicKey(leaf.PublicKey, key.Signer.Public()) {
		for _, c := range b.CA {
			if certfile.SamePublicKey(c.PublicKey, key.Signer.Public()) {
				return nil, certfile.Problem(ErrKeyMismatch, "client key %s is the CA's private key, not the key of %s: the CA and client files look mixed up; copy the device's own key there and move the CA key off the device", n.Key, n.Cert)
			}
		}
		return nil, certfile.Problem(ErrKeyMismatch, "client key %s does not match client certificate %s (%s): copy the key that was made together with this certificate, or issue a new pair", n.Key, n.Cert, certfile.SubjectCN(leaf))
	}

	chain, ok := certfile.SignaturePath(leaf, certs[1:], b.CA)
	if !ok {
		last := chain[len(chain)-1]
		hint := fmt.Sprintf("the certificate and ca.crt come from different CAs; copy the broker's ca.crt, or reissue the certificate with the broker's CA (if %s is an intermediate CA, append its certificate to %s)", certfile.IssuerCN(last), n.Cert)
		if hasIssuer(last, b.CA) {
			hint = fmt.Sprintf("%s names %s, but that CA's key did not sign it: the CA was made anew (the openssl commands were run again); copy the current ca.crt from the broker and reissue the client certificate with it", n.CA, certfile.IssuerCN(last))
		}
		return nil, certfile.Problem(ErrNotSignedByCA, "client certificate %s (%s, issued by %s) is not signed by %s (%s): %s", n.Cert, certfile.SubjectCN(leaf), certfile.IssuerCN(leaf), n.CA, caNames(b.CA), hint)
	}
	b.Chain = chain
	b.Identity = leaf.Subject.CommonName
	b.Client = tls.Certificate{PrivateKey: key.Signer, Leaf: leaf}
	for _, c := range certs {
		b.Client.Certificate = append(b.Client.Certificate, c.Raw)
	}
	// Intermediates that only the CA file holds are sent too, as OpenSSL
	// clients (mosquitto_pub) send them: a broker whose cafile has only the
	// root cannot verify the leaf without them.
	for _, c := range intermediatesAbove(chain[len(chain)-1], b.CA) {
		if !certfile.ContainsCert(certs, c) {
			b.Client.Certificate = append(b.Client.Certificate, c.Raw)
		}
	}
	b.fingerprint = fingerprint(certs, b.CA)

	validity := b.chainValidity(now)
	if err := checkUsage(b, chainUsableAt(chain, now)); err != nil {
		return nil, err
	}
	b.Warnings = hygieneWarnings(b)
	if validity != nil {
		return b, validity
	}
	return b, nil
}

// checkUsage runs Go's own verifier as mosquitto's OpenSSL will: chain
// constraints and the clientAuth usage. It runs at a time at which the chain
// is valid so that expiry is reported by chainValidity, not here.
func checkUsage(b *Bundle, at time.Time) error {
	if at.IsZero() {
		return nil // no moment at which the whole chain is valid; chainValidity says why
	}
	inter := x509.NewCertPool()
	for _, c := range b.Chain[1 : len(b.Chain)-1] {
		inter.AddCert(c)
	}
	_, err := b.Leaf().Verify(x509.VerifyOptions{
		Roots:         b.Roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err == nil {
		return nil
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage {
		return certfile.Problem(ErrUnusable, "client certificate %s (%s) is not allowed for client authentication (extended key usage %s): it looks like a server certificate; issue one with extendedKeyUsage=clientAuth or without that extension", b.CertFile, certfile.SubjectCN(b.Leaf()), certfile.ExtKeyUsageNames(b.Leaf().ExtKeyUsage))
	}
	return certfile.ProblemWith(fmt.Sprintf("client certificate %s (%s) does not verify against %s: %v", b.CertFile, certfile.SubjectCN(b.Leaf()), b.CAFile, err), ErrUnusable, err)
}

// chainUsableAt is now when every certificate of chain is valid at now, else
// the latest start of validity if that moment lies inside all of them, else
// zero.
func chainUsableAt(chain []*x509.Certificate, now time.Time) time.Time {
	valid := func(t time.Time) bool {
		for _, c := range chain {
			if t.Before(c.NotBefore) || t.After(c.NotAfter) {
				return false
			}
		}
		return true
	}
	if valid(now) {
		return now
	}
	var latest time.Time
	for _, c := range chain {
		if c.NotBefore.After(latest) {
			latest = c.NotBefore
		}
	}
	if valid(latest) {
		return latest
	}
	return time.Time{}
}

// intermediatesAbove returns from and the certificates of cas above it up to
// a self-signed root, roots excluded.
func intermediatesAbove(from *x509.Certificate, cas []*x509.Certificate) []*x509.Certificate {
	var path []*x509.Certificate
	cur := from
	for range 8 {
		if certfile.IsSelfSigned(cur) {
			return path
		}
		path = append(path, cur)
		var next *x509.Certificate
		for _, c := range cas {
			if !certfile.ContainsCert(path, c) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			return path
		}
		cur = next
	}
	return path
}

func hasIssuer(c *x509.Certificate, lists ...[]*x509.Certificate) bool {
	for _, l := range lists {
		for _, p := range l {
			if string(p.RawSubject) == string(c.RawIssuer) {
				return true
			}
		}
	}
	return false
}

func caNames(cas []*x509.Certificate) string {
	names := make([]string, 0, len(cas))
	for _, c := range cas {
		names = append(names, certfile.SubjectCN(c))
	}
	return strings.Join(names, ", ")
}

func fingerprint(certs, cas []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range certs {
		h.Write(c.Raw)
	}
	h.Write([]byte{0})
	for _, c := range cas {
		h.Write(c.Raw)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
