package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// TLSOpts configures ClientTLSConfig.
type TLSOpts struct {
	// Host is the broker host as configured (IP address or DNS name); the
	// broker certificate must be for it.
	Host string
	// Now is the clock for certificate validity; nil means time.Now.
	Now func() time.Time
	// OnLegacyServerCert is called once per distinct broker certificate that
	// has no subjectAltName and was accepted by its common name. Log one
	// warning with LegacyReissueHint(host) there. "Once" holds per Source,
	// so a config made anew for every connection attempt does not repeat it.
	OnLegacyServerCert func(*x509.Certificate)
	// OnServerCert is called with every verified broker certificate, e.g.
	// ExpiryWatcher.SetBrokerCert.
	OnServerCert func(*x509.Certificate)
}

// maxRememberedLegacyCerts bounds the set used to report each legacy broker
// certificate once; a real broker has one or two.
const maxRememberedLegacyCerts = 64

// ClientTLSConfig returns the tls.Config for the MQTT connection: TLS 1.2 or
// newer, the client pair that src holds at each handshake (so a rotated
// certificate is used from the next connection on), and a broker check
// against src's ca.crt only.
//
// InsecureSkipVerify is set only because Go's own check refuses the tutorial's
// v1 certificates without subjectAltName; VerifyConnection, which also runs on
// resumed sessions, does the full verification instead: the chain to ca.crt
// with the serverAuth usage at opts.Now, then the subjectAltName if the
// certificate has any, else its common name equal to opts.Host.
func ClientTLSConfig(src *Source, opts TLSOpts) *tls.Config {
	v := &brokerVerifier{src: src, opts: opts}
	if v.opts.Now == nil {
		v.opts.Now = time.Now
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         opts.Host,
		InsecureSkipVerify: true, // replaced by VerifyConnection, see above
		VerifyConnection:   v.verify,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			pair := src.Current().Client
			return &pair, nil
		},
	}
}

type brokerVerifier struct {
	src  *Source
	opts TLSOpts
}

func (v *brokerVerifier) verify(cs tls.ConnectionState) error {
	host := v.opts.Host
	if host == "" {
		host = cs.ServerName
	}
	if host == "" {
		return errors.New("no broker host configured to check the broker certificate against")
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the broker sent no certificate")
	}
	b := v.src.Current()
	leaf := cs.PeerCertificates[0]
	if err := verifyBrokerChain(b, leaf, cs.PeerCertificates[1:], v.opts.Now()); err != nil {
		return err
	}
	legacy, err := verifyBrokerHost(leaf, host)
	if err != nil {
		return err
	}
	if legacy && v.opts.OnLegacyServerCert != nil && v.src.firstLegacySighting(leaf) {
		v.opts.OnLegacyServerCert(leaf)
	}
	if v.opts.OnServerCert != nil {
		v.opts.OnServerCert(leaf)
	}
	return nil
}

// legacySightings remembers the broker certificates already reported as
// legacy, so each is reported once however many connections are made.
type legacySightings struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]bool
}

func (s *Source) firstLegacySighting(c *x509.Certificate) bool {
	sum := sha256.Sum256(c.Raw)
	l := &s.legacy
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[sum] {
		return false
	}
	if l.seen == nil || len(l.seen) >= maxRememberedLegacyCerts {
		l.seen = map[[sha256.Size]byte]bool{}
	}
	l.seen[sum] = true
	return true
}

// verifyBrokerChain checks the broker's certificate against b's CA file only.
func verifyBrokerChain(b *Bundle, leaf *x509.Certificate, rest []*x509.Certificate, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range rest {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         b.Roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err == nil {
		return nil
	}
	var (
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		return certfile.ProblemWith(fmt.Sprintf("broker certificate (%s, issued by %s) is not signed by %s (%s): the broker and this device use different CAs; copy the broker's ca.crt to %s",
			certfile.SubjectCN(leaf), certfile.IssuerCN(leaf), b.CAFile, caNames(b.CA), b.CAFile), ErrNotSignedByCA, err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		for _, c := range append([]*x509.Certificate{leaf}, rest...) {
			if ve := checkValidity("broker", "sent by the broker", c, now); ve != nil {
				return certfile.ProblemWith(brokerValidityMessage(c, now), ve, err)
			}
		}
		for _, c := range b.CA {
			if ve := checkValidity("ca", b.CAFile, c, now); ve != nil {
				return certfile.ProblemWith(ve.Error(), ve, err)
			}
		}
		return certfile.ProblemWith("broker certificate chain is outside its validity period: "+err.Error(), ErrExpired, err)
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return certfile.ProblemWith(fmt.Sprintf("broker certificate (%s) is not allowed for servers (extended key usage %s): reissue the broker's server.crt with extendedKeyUsage=serverAuth or without that extension",
			certfile.SubjectCN(leaf), certfile.ExtKeyUsageNames(leaf.ExtKeyUsage)), ErrUnusable, err)
	}
	return certfile.ProblemWith(fmt.Sprintf("broker certificate (%s, issued by %s) does not verify against %s: %v", certfile.SubjectCN(leaf), certfile.IssuerCN(leaf), b.CAFile, err), ErrUnusable, err)
}

func brokerValidityMessage(c *x509.Certificate, now time.Time) string {
	if now.Before(c.NotBefore) {
		return fmt.Sprintf("broker certificate (%s) is not valid before %s, but the clock says %s: if the clock is wrong (a Pi without RTC before NTP sync) wait for time sync, else the broker's certificate has a future start date",
			certfile.SubjectCN(c), c.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("broker certificate (%s) expired on %s: the broker's server.crt must be renewed (the clock says %s)",
		certfile.SubjectCN(c), c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
}

// verifyBrokerHost checks that leaf is for host. legacy is true when the
// certificate has no subjectAltName and was accepted by its common name.
func verifyBrokerHost(leaf *x509.Certificate, host string) (legacy bool, err error) {
	if HasSAN(leaf) {
		if err := leaf.VerifyHostname(host); err != nil {
			return false, certfile.ProblemWith(fmt.Sprintf("broker certificate is for %s, not for host %s: set the broker host in the config to one of those names, or reissue the broker certificate for %s",
				sanList(leaf), host, host), ErrUnusable, err)
		}
		return false, nil
	}
	cn := leaf.Subject.CommonName
	if cn != "" && sameHost(cn, host) {
		return true, nil
	}
	cn = certfile.Printable(cn)
	if cn == "" {
		return false, certfile.Problem(ErrUnusable, "broker certificate names no host at all (no CN, no subjectAltName): reissue the broker certificate for %s with `%s`",
			host, LegacyReissueHint(host))
	}
	return false, certfile.Problem(ErrUnusable, "broker certificate is for %s, not for host %s: set the broker host in the config to %s, or reissue the broker certificate for %s with `%s`",
		cn, host, cn, host, LegacyReissueHint(host))
}

// sameHost compares a certificate name with the configured host: IP
// addresses as addresses (so ::1 equals 0:0:0:0:0:0:0:1), DNS names without
// regard to case or a trailing dot. Wildcards are not honoured in a common
// name.
func sameHost(name, host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	hostIP, hostErr := netip.ParseAddr(host)
	nameIP, nameErr := netip.ParseAddr(name)
	if hostErr == nil || nameErr == nil {
		return hostErr == nil && nameErr == nil && hostIP.Unmap().WithZone("") == nameIP.Unmap().WithZone("")
	}
	return strings.EqualFold(strings.TrimSuffix(name, "."), strings.TrimSuffix(host, "."))
}

// oidSubjectAltName is the subjectAltName extension (RFC 5280, 4.2.1.6).
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// HasSAN reports whether c has a subjectAltName extension, whatever it
// holds: one with only directory or other names still rules out the CN
// (RFC 6125, 6.4.4), as Go's VerifyHostname and OpenSSL also decide.
func HasSAN(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			return true
		}
	}
	return false
}

// sanList lists the host-like subjectAltNames of c, escaped.
func sanList(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	names = append(names, c.EmailAddresses...)
	if len(names) == 0 {
		return "no host name (its subjectAltName holds only directory or other names)"
	}
	return certfile.Printable(strings.Join(names, ", "))
}

// LegacyReissueHint is the command that reissues the broker's server
// certificate of the tutorial with a subjectAltName for host, run in the
// broker's certificate folder where ca.key is available again. It keeps the
// tutorial's file names, so mosquitto.conf stays as it is.
func LegacyReissueHint(host string) string {
	san := "DNS:" + host
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		san = "IP:" + ip.String()
	}
	return fmt.Sprintf(`openssl req -new -key server.key -out server.csr -subj "/CN=%s" && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 825 -sha256 -extfile <(printf "subjectAltName=%s\nextendedKeyUsage=serverAuth") && systemctl restart mosquitto`,
		strings.Trim(host, "[]"), san)
}
