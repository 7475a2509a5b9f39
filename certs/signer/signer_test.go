package signer_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/certs/signer"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// These tests run the signer against a real Mosquitto with the tutorial's
// settings, the README's signer ACL lines and a crlfile.

type setup struct {
	pki    *tutorialpki.PKI
	ca     *pki.Authority
	broker *mosquittotest.Broker
	logs   *testutil.Buffer
}

func start(t *testing.T, o signer.Opts) *setup {
	t.Helper()
	p := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai", "Bob", "signer")
	if err := os.Chmod(p.File("ca.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.OpenAuthority(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WriteCRL(time.Now(), cmp.Or(o.CRLValidity, time.Hour)); err != nil {
		t.Fatal(err)
	}
	s := &setup{pki: p, ca: ca, logs: &testutil.Buffer{}}
	s.broker = mosquittotest.Start(t, mosquittotest.Opts{PKI: p, ACL: mosquittotest.SignerACL, Extra: []string{"crlfile " + ca.CRLFile}})
	o.Authority, o.BrokerURL, o.TLS = ca, s.broker.URL(), tlsConfig(t, p.DeviceDir(t, "signer"))
	o.Logger = slog.New(slog.NewJSONHandler(s.logs, nil))
	if o.ReloadCommand == nil {
		o.ReloadCommand = s.broker.ReloadCommand()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- signer.Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("signer: %v", err)
		}
	})
	// A minute: on a loaded machine a first connect can hang until paho's
	// 30 s connect timeout, and the signer retries 5 s later.
	testutil.Eventually(t, time.Minute, "the signer ready", func() bool { return strings.Contains(s.logs.String(), logging.MsgSignerReady) })
	return s
}

func tlsConfig(t *testing.T, dir string) *tls.Config {
	t.Helper()
	b, err := certs.Load(dir, certs.Names{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return certs.ClientTLSConfig(certs.NewSource(dir, certs.Names{}, b, nil), certs.TLSOpts{Host: "127.0.0.1"})
}

// device is a paho client with a device's certificate, subscribed to its
// certs/issued topic.
type device struct {
	client  mqtt.Client
	answers chan signer.Answer
}

func connect(t *testing.T, s *setup, name string) *device {
	t.Helper()
	d := &device{answers: make(chan signer.Answer, 10)}
	o := mqtt.NewClientOptions().AddBroker(s.broker.URL()).SetClientID(name + "-test").
		SetTLSConfig(tlsConfig(t, s.pki.DeviceDir(t, name))).SetAutoReconnect(false)
	d.client = mqtt.NewClient(o)
	if tok := d.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as %s: %v", name, tok.Error())
	}
	t.Cleanup(func() { d.client.Disconnect(100) })
	tok := d.client.Subscribe(name+"/certs/issued", 1, func(_ mqtt.Client, m mqtt.Message) {
		var a signer.Answer
		if err := json.Unmarshal(m.Payload(), &a); err != nil {
			t.Errorf("answer is not JSON: %q", m.Payload())
		}
		d.answers <- a
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return d
}

func (d *device) ask(t *testing.T, topic string, payload []byte) {
	t.Helper()
	if tok := d.client.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

func (d *device) answer(t *testing.T) signer.Answer {
	t.Helper()
	select {
	case a := <-d.answers:
		return a
	case <-time.After(20 * time.Second):
		t.Fatal("no answer from the signer within 20s")
		return signer.Answer{}
	}
}

func newCSR(t *testing.T, cn string, key crypto.Signer) []byte {
	t.Helper()
	if key == nil {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// Kai gets a certificate for a CSR on its own topic; every other request is
// refused with the reason, and the signer keeps working after each.
//
// It fails if a refused request is signed, if the ACL lets Kai reach
// Bob/certs/csr, or if the signer stops answering after a bad request.
func TestSignerAnswersAndRefuses(t *testing.T) {
	s := start(t, signer.Opts{RateBurst: 100, RateEvery: time.Second})
	kai := connect(t, s, "Kai")

	kai.ask(t, "Kai/certs/csr", newCSR(t, "Kai", nil))
	a := kai.answer(t)
	if a.Refused != "" {
		t.Fatalf("refused: %s %s", a.Refused, a.Detail)
	}
	chain, err := pki.ParseCertificates([]byte(a.Certificate))
	if err != nil || len(chain) != 2 || chain[0].Subject.CommonName != "Kai" || !chain[1].Equal(s.ca.Cert) {
		t.Fatalf("answer is not Kai's certificate with the CA: %v", err)
	}

	kaiKey := readKey(t, s.pki.File("Kai.key"))
	kaiCert, _ := os.ReadFile(s.pki.File("Kai.crt"))
	for _, c := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"CSR for Bob", newCSR(t, "Bob", nil), pki.RefusedName},
		{"current key reused", append(newCSR(t, "Kai", kaiKey), kaiCert...), pki.RefusedKeyReused},
		{"not PEM", []byte("hello"), pki.RefusedMalformed},
		{"broken DER", []byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIBAAAA\n-----END CERTIFICATE REQUEST-----\n"), pki.RefusedMalformed},
		{"oversized", bytes.Repeat([]byte("A"), 64<<10), pki.RefusedTooLarge},
	} {
		kai.ask(t, "Kai/certs/csr", c.payload)
		if a := kai.answer(t); a.Refused != c.want || a.Certificate != "" {
			t.Errorf("%s: answer %+v, want refused %s", c.name, a, c.want)
		}
	}

	// The ACL (pattern readwrite %u/#) stops Kai at Bob's topic: the signer
	// never sees it, so nothing is logged for Bob and Bob gets no answer.
	bob := connect(t, s, "Bob")
	kai.ask(t, "Bob/certs/csr", newCSR(t, "Bob", nil))
	kai.ask(t, "Kai/certs/csr", newCSR(t, "Kai", nil)) // sent after: once answered, the one before was handled
	if a := kai.answer(t); a.Refused != "" {
		t.Fatalf("the signer stopped signing after bad requests: %+v", a)
	}
	if strings.Contains(s.logs.String(), `"device":"Bob"`) {
		t.Errorf("the signer saw a request on Bob's topic:\n%s", s.logs)
	}
	select {
	case a := <-bob.answers:
		t.Errorf("Bob got an answer: %+v", a)
	default:
	}
	for _, reason := range []string{pki.RefusedName, pki.RefusedKeyReused, pki.RefusedMalformed, pki.RefusedTooLarge} {
		if !strings.Contains(s.logs.String(), `"reason":"`+reason+`"`) {
			t.Errorf("refusal %s not logged", reason)
		}
	}
	if strings.Contains(s.logs.String(), "PRIVATE KEY") {
		t.Error("key material in the log")
	}
}

// After `ca revoke` and a CRL reload, Mosquitto refuses the revoked device
// and Bob keeps publishing; the signer refuses Kai's requests too.
func TestRevokedDeviceIsRefusedByTheBroker(t *testing.T) {
	s := start(t, signer.Opts{})
	kaiDir, bobDir := s.pki.DeviceDir(t, "Kai"), s.pki.DeviceDir(t, "Bob")
	if err := publishOnce(s, kaiDir, "Kai"); err != nil {
		t.Fatalf("Kai before revocation: %v", err)
	}
	if _, err := s.ca.Revoke(s.pki.File("Kai.crt"), "keyCompromise", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ca.WriteCRL(time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	s.broker.Reload()
	testutil.Eventually(t, 20*time.Second, "the broker refusing Kai", func() bool { return publishOnce(s, kaiDir, "Kai") != nil })
	if err := publishOnce(s, bobDir, "Bob"); err != nil {
		t.Errorf("Bob after Kai's revocation: %v", err)
	}
	if log := s.broker.Log(); !strings.Contains(log[strings.LastIndex(log, "Reloading config."):], "certificate verify failed") {
		t.Errorf("the broker did not refuse Kai's certificate after the reload:\n%s", s.broker.Log())
	}
}

// A CRL that nears its nextUpdate is replaced and reloaded in time: clients
// still connect after the first CRL's nextUpdate has passed.
func TestCRLIsRefreshedBeforeNextUpdate(t *testing.T) {
	const validity = 20 * time.Second
	s := start(t, signer.Opts{CRLValidity: validity, CRLRefresh: 12 * time.Second})
	first, err := s.ca.CRL()
	if err != nil {
		t.Fatal(err)
	}
	bobDir := s.pki.DeviceDir(t, "Bob")
	testutil.Eventually(t, validity+10*time.Second, "a CRL newer than the first one", func() bool {
		crl, err := s.ca.CRL()
		return err == nil && crl.Number.Cmp(first.Number) > 0
	})
	testutil.Eventually(t, validity+10*time.Second, "the first CRL's nextUpdate to pass", func() bool { return time.Now().After(first.NextUpdate.Add(time.Second)) })
	if err := publishOnce(s, bobDir, "Bob"); err != nil {
		t.Fatalf("Bob after the first CRL's nextUpdate: %v\n%s", err, s.broker.Log())
	}
	if !strings.Contains(s.logs.String(), logging.MsgCRLWritten) {
		t.Error("the refresh was not logged")
	}
}

func publishOnce(s *setup, dir, name string) error {
	b, err := certs.Load(dir, certs.Names{}, time.Now())
	if err != nil {
		return err
	}
	cfg := certs.ClientTLSConfig(certs.NewSource(dir, certs.Names{}, b, nil), certs.TLSOpts{Host: "127.0.0.1"})
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(s.broker.URL()).SetClientID(name + "-once").SetTLSConfig(cfg).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return tok.Error()
	}
	defer c.Disconnect(100)
	p := c.Publish(name+"/probe", 1, false, "x")
	if !p.WaitTimeout(10*time.Second) || p.Error() != nil {
		return p.Error()
	}
	return nil
}

func readKey(t *testing.T, path string) crypto.Signer {
	t.Helper()
	data, _ := os.ReadFile(path)
	block, _ := pem.Decode(data)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		rk, err2 := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err2 != nil {
			t.Fatal(err)
		}
		return rk
	}
	return k.(crypto.Signer)
}
