package certs_test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
)

// brokerPair issues a server certificate with the given CN and extra
// extensions straight from the CA's key, for shapes certs.CA never issues.
func brokerPair(t *testing.T, ca *certs.CA, cn string, extra ...pkix.Extension) tls.Certificate {
	t.Helper()
	caKeyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	key, err := certs.GenerateKey(certs.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(time.Now().UnixNano()),
		Subject:         pkix.Name{CommonName: cn},
		NotBefore:       t0.Add(-time.Hour),
		NotAfter:        t0.Add(time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		ExtraExtensions: extra,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), parseKeyPEM(t, caKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// dirNameSAN is a subjectAltName extension holding one directoryName.
func dirNameSAN(t *testing.T, cn string) pkix.Extension {
	t.Helper()
	name, err := asn1.Marshal(pkix.Name{CommonName: cn}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	gn, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: gn})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: seq}
}

func brokerCheck(t *testing.T, ca *certs.CA, pair tls.Certificate, host string) handshakeResult {
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
	ca := newCA(t, "MQTT-CA", certs.KeyECDSAP256)
	res := brokerCheck(t, ca, brokerPair(t, ca, "127.0.0.1", dirNameSAN(t, "127.0.0.1")), "127.0.0.1")
	wantErr(t, res.clientErr, "not for host 127.0.0.1", "only directory or other names")
}

// The broker's certificate is not verified yet when its names are printed:
// control characters and escape sequences in it are shown escaped.
func TestUnverifiedBrokerNamesEscaped(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", certs.KeyECDSAP256)
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

// certs inspect shows a certificate's hostile names escaped, and a
// directoryName-only subjectAltName as one.
func TestInspectEscapesNames(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", certs.KeyECDSAP256)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.crt"), ca.CertPEM(), 0o644)
	hostile := brokerPair(t, ca, "evil\n\x1b[2Jx")
	writeFile(t, filepath.Join(dir, "hostile.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hostile.Certificate[0]}), 0o644)
	dirOnly := brokerPair(t, ca, "127.0.0.1", dirNameSAN(t, "127.0.0.1"))
	writeFile(t, filepath.Join(dir, "dironly.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dirOnly.Certificate[0]}), 0o644)
	r, err := certs.Inspect(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	if strings.Contains(out, "\x1b") || strings.Contains(out, "evil\n") {
		t.Errorf("raw control characters in the output:\n%q", out)
	}
	for _, want := range []string{`CN=evil\n\x1b[2Jx`, "only directory or other names"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
