package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

func brokerPair(t *testing.T, ca *pki.CA, cn string, extra ...pkix.Extension) tls.Certificate {
	t.Helper()
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return tutorialpki.ServerPair(t, ca.Cert, keyPEM, cn, t0.Add(-time.Hour), t0.Add(time.Hour), extra...)
}

func dirNameSAN(t *testing.T, cn string) pkix.Extension { return tutorialpki.DirNameSAN(t, cn) }

func brokerCheck(t *testing.T, ca *pki.CA, pair tls.Certificate, host string) handshakeResult {
	t.Helper()
	certPEM, keyPEM := issueClient(t, ca, "Kai")
	dir := deviceDir(t, ca.CertPEM(), "Kai", certPEM, keyPEM)
	b, err := certs.Load(dir, certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	src := certs.NewSource(dir, certs.Names{}, b, nil)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	srvConf := &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, Time: func() time.Time { return t0 }}
	cliConf := certs.ClientTLSConfig(src, certs.TLSOpts{Host: host, Now: func() time.Time { return t0 }})
	return handshake(t, srvConf, cliConf)
}

// A subjectAltName with only a directoryName is still a subjectAltName: the
// CN, even one equal to the host, no longer names the broker.
func TestSANWithOnlyDirNameRulesOutCN(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	res := brokerCheck(t, ca, brokerPair(t, ca, "127.0.0.1", dirNameSAN(t, "127.0.0.1")), "127.0.0.1")
	testutil.WantOneLineError(t, res.clientErr, "not for host 127.0.0.1", "only directory or other names")
}

// The broker's certificate is not verified yet when its names are printed:
// control characters and escape sequences in it are shown escaped.
func TestUnverifiedBrokerNamesEscaped(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	hostile := "evil\n2026-12-02 level=INFO msg=\"all fine\"\x1b[2J\u202e"
	for _, host := range []string{"127.0.0.1"} {
		res := brokerCheck(t, ca, brokerPair(t, ca, hostile), host)
		if res.clientErr == nil {
			t.Fatal("handshake succeeded")
		}
		msg := res.clientErr.Error()
		if strings.ContainsAny(msg, "\n\x1b\u202e") {
			t.Errorf("error carries raw control characters: %q", msg)
		}
		if !strings.Contains(msg, `evil\n2026`) || !strings.Contains(msg, `\x1b[2J`) || !strings.Contains(msg, `\u202e`) {
			t.Errorf("error does not show the name escaped: %q", msg)
		}
	}
	if got := certs.Printable("Küche 21°C"); got != "Küche 21°C" {
		t.Errorf("Printable changed printable text to %q", got)
	}
}
