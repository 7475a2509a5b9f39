package certs_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/logging"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

func TestLoadSeedBundle(t *testing.T) {
	t.Parallel()
	pki := tutorialpki.New(t, t.TempDir(), tutorialpki.Opts{Clients: []string{"Kai"}})
	if v := pki.Version(t, "Kai.crt"); v != 1 {
		t.Fatalf("seed client certificate is X.509 v%d, want v1 as the seed's openssl commands make", v)
	}
	dir := pki.DeviceDir(t, "Kai")

	b, err := certs.Load(dir, certs.Names{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if b.Identity != "Kai" {
		t.Errorf("identity %q, want Kai", b.Identity)
	}
	if b.Client.Leaf == nil || b.Client.PrivateKey == nil || len(b.Client.Certificate) != 1 {
		t.Errorf("client pair incomplete: %+v", b.Client)
	}
	if b.CertFile != filepath.Join(dir, "Kai.crt") || b.KeyFile != filepath.Join(dir, "Kai.key") || b.CAFile != filepath.Join(dir, "ca.crt") {
		t.Errorf("files %s %s %s", b.CAFile, b.CertFile, b.KeyFile)
	}
	if len(b.Warnings) != 0 {
		t.Errorf("warnings for a clean device folder: %+v", b.Warnings)
	}
	onlyCA := x509.NewCertPool()
	onlyCA.AddCert(b.CA[0])
	if !b.Roots.Equal(onlyCA) {
		t.Error("Roots holds more than ca.crt")
	}
}

func TestLoadKeyTypesAndEncodings(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "Test-CA", pki.KeyECDSAP256)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		keyType  pki.KeyType
		encoding string
		wantType string
	}{
		{name: "rsa-pkcs1", keyType: pki.KeyRSA2048, encoding: "PKCS#1", wantType: "*rsa.PrivateKey"},
		{name: "rsa-pkcs8", keyType: pki.KeyRSA2048, encoding: "PKCS#8", wantType: "*rsa.PrivateKey"},
		{name: "p256-sec1", keyType: pki.KeyECDSAP256, encoding: "SEC1", wantType: "*ecdsa.PrivateKey"},
		{name: "p256-pkcs8", keyType: pki.KeyECDSAP256, encoding: "PKCS#8", wantType: "*ecdsa.PrivateKey"},
		{name: "p384-sec1", keyType: pki.KeyECDSAP384, encoding: "SEC1", wantType: "*ecdsa.PrivateKey"},
		{name: "p384-pkcs8", keyType: pki.KeyECDSAP384, encoding: "PKCS#8", wantType: "*ecdsa.PrivateKey"},
		{name: "ed25519-pkcs8", encoding: "PKCS#8", wantType: "ed25519.PrivateKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := pki.IssueRequest{CommonName: "dev-" + tc.name, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour), KeyType: tc.keyType}
			if tc.keyType == "" {
				req.Key = edKey
			}
			certPEM, keyPEM, err := ca.Issue(req)
			if err != nil {
				t.Fatal(err)
			}
			dir := deviceDir(t, ca.CertPEM(), "dev", certPEM, reencode(t, keyPEM, tc.encoding))
			b, err := certs.Load(dir, certs.Names{}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(b.Client.PrivateKey); got != tc.wantType {
				t.Errorf("key type %s, want %s", got, tc.wantType)
			}
			// The pair must really work in a TLS handshake with client auth.
			checkClientAuthHandshake(t, ca, b)
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *rsa.PrivateKey:
		return "*rsa.PrivateKey"
	case *ecdsa.PrivateKey:
		return "*ecdsa.PrivateKey"
	case ed25519.PrivateKey:
		return "ed25519.PrivateKey"
	}
	return "other"
}

// checkClientAuthHandshake runs a TLS handshake over net.Pipe against a
// server that requires a client certificate from ca, using b's pair.
func checkClientAuthHandshake(t *testing.T, ca *pki.CA, b *certs.Bundle) {
	t.Helper()
	srvCert, srvKey, err := ca.IssueServer("broker.test", t0)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	srvConf := &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, Time: func() time.Time { return t0 }}
	src := certs.NewSource(b.Dir, certs.Names{}, b, nil)
	cliConf := certs.ClientTLSConfig(src, certs.TLSOpts{Host: "broker.test", Now: func() time.Time { return t0 }})
	res := handshake(t, srvConf, cliConf)
	if res.clientErr != nil || res.serverErr != nil {
		t.Fatalf("handshake: client %v, server %v", res.clientErr, res.serverErr)
	}
	if res.peerCN != b.Identity {
		t.Errorf("server saw client %q, want %q", res.peerCN, b.Identity)
	}
}

type handshakeResult struct {
	clientErr, serverErr error
	peerCN               string // the client certificate's CN as the server saw it
	state                tls.ConnectionState
}

// handshake connects a tls.Client and a tls.Server over net.Pipe.
func handshake(t *testing.T, srvConf, cliConf *tls.Config) handshakeResult {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	srv := tls.Server(s, srvConf)
	done := make(chan handshakeResult, 1)
	go func() {
		var r handshakeResult
		r.serverErr = srv.Handshake()
		if r.serverErr == nil {
			if peers := srv.ConnectionState().PeerCertificates; len(peers) > 0 {
				r.peerCN = peers[0].Subject.CommonName
			}
		}
		s.Close() // unblock the client if the server gave up
		done <- r
	}()
	cli := tls.Client(c, cliConf)
	cliErr := cli.Handshake()
	if cliErr == nil {
		// TLS 1.3 sends the client certificate after the client considers
		// the handshake done; a read lets the server finish and report.
		_ = cli.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, _ = cli.Read(make([]byte, 1))
	}
	c.Close()
	r := <-done
	r.clientErr = cliErr
	r.state = cli.ConnectionState()
	return r
}

func TestLoadIntermediateChain(t *testing.T) {
	t.Parallel()
	root := newCA(t, "Root-CA", pki.KeyECDSAP256)
	inter, err := root.IssueIntermediate("Issuing-CA", t0)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, keyPEM := issueClient(t, inter, "Kai")
	interPEM := inter.CertPEM()

	t.Run("leaf and intermediate in the client file", func(t *testing.T) {
		dir := deviceDir(t, root.CertPEM(), "Kai", append(append([]byte{}, leafPEM...), interPEM...), keyPEM)
		b, err := certs.Load(dir, certs.Names{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Client.Certificate) != 2 || len(b.Chain) != 3 {
			t.Errorf("chain sent %d, path %d; want 2 and 3", len(b.Client.Certificate), len(b.Chain))
		}
		// A server that trusts only the root must accept the pair.
		checkClientAuthHandshake(t, root, b)
	})
	t.Run("CA bundle in ca.crt", func(t *testing.T) {
		dir := deviceDir(t, append(append([]byte{}, root.CertPEM()...), interPEM...), "Kai", leafPEM, keyPEM)
		b, err := certs.Load(dir, certs.Names{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.CA) != 2 || b.Chain[len(b.Chain)-1].Subject.CommonName != "Issuing-CA" {
			t.Errorf("CA %d certs, chain ends at %s", len(b.CA), b.Chain[len(b.Chain)-1].Subject)
		}
	})
	t.Run("intermediate missing", func(t *testing.T) {
		dir := deviceDir(t, root.CertPEM(), "Kai", leafPEM, keyPEM)
		_, err := certs.Load(dir, certs.Names{}, t0)
		testutil.WantOneLineError(t, err, "Kai.crt", "not signed by", "ca.crt", "Issuing-CA", "intermediate")
		if !errors.Is(err, certs.ErrNotSignedByCA) {
			t.Errorf("error %v is not ErrNotSignedByCA", err)
		}
	})
}

// badBundle describes one broken device folder.
type badBundle struct {
	name  string
	spoil func(t *testing.T, dir string, f fixture)
	names certs.Names
	now   time.Time
	kind  error
	words []string
	// usable: Load still returns the bundle (validity problems only).
	usable bool
}

// fixture is a good device folder's ingredients.
type fixture struct {
	ca, other           *pki.CA
	caPEM               []byte
	certPEM, keyPEM     []byte
	otherCert, otherKey []byte
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	other := newCA(t, "Other-CA", pki.KeyECDSAP256)
	certPEM, keyPEM := issueClient(t, ca, "Kai")
	otherCert, otherKey := issueClient(t, other, "Kai")
	fx := fixture{ca: ca, other: other, caPEM: ca.CertPEM(), certPEM: certPEM, keyPEM: keyPEM, otherCert: otherCert, otherKey: otherKey}
	caKey, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string, data []byte) func(*testing.T, string, fixture) {
		return func(t *testing.T, dir string, _ fixture) { writeFile(t, filepath.Join(dir, name), data, 0o600) }
	}
	remove := func(name string) func(*testing.T, string, fixture) {
		return func(t *testing.T, dir string, _ fixture) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	der := func(p []byte) []byte { b, _ := pem.Decode(p); return b.Bytes }
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x00}})
	serverPEM, serverKey, err := ca.IssueServer("broker.test", t0)
	if err != nil {
		t.Fatal(err)
	}

	cases := []badBundle{
		{name: "missing ca.crt", spoil: remove("ca.crt"), kind: fs.ErrNotExist, words: []string{"ca.crt", "does not exist", "certs.ca"}},
		{name: "missing key", spoil: remove("Kai.key"), names: certs.Names{Cert: "Kai.crt"}, kind: fs.ErrNotExist, words: []string{"Kai.key", "does not exist", "certs.key"}},
		{name: "missing cert", spoil: remove("Kai.crt"), names: certs.Names{Cert: "Kai.crt", Key: "Kai.key"}, kind: fs.ErrNotExist, words: []string{"Kai.crt", "does not exist"}},
		{name: "empty cert", spoil: put("Kai.crt", nil), kind: certs.ErrNotPEM, words: []string{"Kai.crt", "empty"}},
		{name: "cert is not PEM", spoil: put("Kai.crt", []byte("hello\n")), kind: certs.ErrNotPEM, words: []string{"Kai.crt", "not a PEM certificate"}},
		{name: "cert is DER", spoil: put("Kai.crt", der(certPEM)), kind: certs.ErrNotPEM, words: []string{"Kai.crt", "DER", "openssl x509 -inform der"}},
		{name: "key where ca.crt belongs", spoil: put("ca.crt", keyPEM), kind: certs.ErrWrongPEMType, words: []string{"ca.crt", "private key", "mixed up"}},
		{name: "cert where key belongs", spoil: put("Kai.key", certPEM), kind: certs.ErrWrongPEMType, words: []string{"Kai.key", "holds a certificate", "mixed up"}},
		{name: "csr where cert belongs", spoil: put("Kai.crt", csr), kind: certs.ErrWrongPEMType, words: []string{"Kai.crt", "certificate request"}},
		{name: "client cert as ca.crt", spoil: put("ca.crt", certPEM), kind: certs.ErrWrongPEMType, words: []string{"ca.crt", "CN=Kai", "not a CA certificate"}},
		{name: "ca cert as client cert", spoil: put("Kai.crt", fx.caPEM), kind: certs.ErrWrongPEMType, words: []string{"Kai.crt", "CA certificate", "mixed up"}},
		{name: "key does not match", spoil: put("Kai.key", otherKey), kind: certs.ErrKeyMismatch, words: []string{"Kai.key", "does not match", "Kai.crt"}},
		{name: "CA key as client key", spoil: put("Kai.key", caKey), kind: certs.ErrKeyMismatch, words: []string{"Kai.key", "CA's private key", "mixed up"}},
		{name: "signed by another CA", spoil: func(t *testing.T, dir string, f fixture) {
			writeFile(t, filepath.Join(dir, "Kai.crt"), f.otherCert, 0o644)
			writeFile(t, filepath.Join(dir, "Kai.key"), f.otherKey, 0o600)
		}, kind: certs.ErrNotSignedByCA, words: []string{"Kai.crt", "not signed by", "ca.crt", "CN=Other-CA", "CN=MQTT-CA"}},
		{name: "CA made anew with the same name", spoil: put("ca.crt", newCA(t, "MQTT-CA", pki.KeyECDSAP256).CertPEM()),
			kind: certs.ErrNotSignedByCA, words: []string{"Kai.crt", "not signed by", "made anew", "reissue"}},
		{name: "server cert as client cert", spoil: func(t *testing.T, dir string, _ fixture) {
			writeFile(t, filepath.Join(dir, "Kai.crt"), serverPEM, 0o644)
			writeFile(t, filepath.Join(dir, "Kai.key"), serverKey, 0o600)
		}, kind: certs.ErrNoClientCert, words: []string{"Kai.crt", "only a server pair", "serverAuth, no clientAuth"}},
		{name: "not yet valid", now: t0.Add(-48 * time.Hour), kind: certs.ErrNotYetValid, usable: true, words: []string{"Kai.crt", "not valid before", "clock", "NTP"}},
		{name: "expired", now: t0.Add(900 * 24 * time.Hour), kind: certs.ErrExpired, usable: true, words: []string{"Kai.crt", "expired on", "days ago"}},
		{name: "directory missing", spoil: func(t *testing.T, dir string, _ fixture) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, kind: fs.ErrNotExist, words: []string{"certificate directory", "does not exist"}},
		{name: "cert path is a directory", spoil: func(t *testing.T, dir string, _ fixture) {
			if err := os.Mkdir(filepath.Join(dir, "sub.crt"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, names: certs.Names{Cert: "sub.crt", Key: "Kai.key"}, kind: certs.ErrWrongPEMType, words: []string{"sub.crt", "is a directory", "certs.cert"}},
		{name: "OpenSSH key", spoil: put("Kai.key", pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: []byte("x")})), kind: certs.ErrWrongPEMType, words: []string{"Kai.key", "OpenSSH"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := deviceDir(t, fx.caPEM, "Kai", fx.certPEM, fx.keyPEM)
			if tc.spoil != nil {
				tc.spoil(t, dir, fx)
			}
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			b, err := certs.Load(dir, tc.names, now)
			t.Log(err)
			testutil.WantOneLineError(t, err, tc.words...)
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
			if tc.usable != (b != nil) {
				t.Errorf("bundle returned: %v, want %v", b != nil, tc.usable)
			}
			var ve *certs.ValidityError
			if tc.usable && (!errors.As(err, &ve) || ve.Which != "client") {
				t.Errorf("error %T is not a client *ValidityError", err)
			}
		})
	}
}

func TestLoadNoCommonName(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	// Issue requires a CN, so build the certificate by hand.
	caKey := parseKeyPEM(t, mustKeyPEM(t, ca))
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := deviceDir(t, ca.CertPEM(), "anon", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	_, err = certs.Load(dir, certs.Names{}, t0)
	testutil.WantOneLineError(t, err, "anon.crt", "no common name", "use_identity_as_username")
}

func mustKeyPEM(t testing.TB, ca *pki.CA) []byte {
	t.Helper()
	k, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLoadEncryptedKeys(t *testing.T) {
	t.Parallel()
	pki := tutorialpki.New(t, t.TempDir(), tutorialpki.Opts{Clients: []string{"Kai"}})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"pkcs8", []string{"pkey", "-in", "Kai.key", "-aes256", "-passout", "pass:secret", "-out", "enc.key"}},
		{"traditional", []string{"rsa", "-in", "Kai.key", "-aes256", "-traditional", "-passout", "pass:secret", "-out", "enc.key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pki.Run(t, tc.args...)
			dir := pki.DeviceDir(t, "Kai")
			tutorialpki.CopyFile(t, pki.File("enc.key"), filepath.Join(dir, "Kai.key"), 0o600)
			_, err := certs.Load(dir, certs.Names{}, time.Now())
			keyFile := filepath.Join(dir, "Kai.key")
			testutil.WantOneLineError(t, err, keyFile, "passphrase", "openssl pkey -in "+keyFile+" -out "+keyFile+".new")
			if !errors.Is(err, certs.ErrEncryptedKey) {
				t.Errorf("%v is not ErrEncryptedKey", err)
			}
		})
	}
}

// TestDecryptHintWorks runs the command the encrypted-key error suggests and
// loads the result, so the advice cannot rot.
func TestDecryptHintWorks(t *testing.T) {
	t.Parallel()
	pki := tutorialpki.New(t, t.TempDir(), tutorialpki.Opts{Clients: []string{"Kai"}})
	pki.Run(t, "pkey", "-in", "Kai.key", "-aes256", "-passout", "pass:secret", "-out", "Kai.key.enc")
	dir := pki.DeviceDir(t, "Kai")
	keyFile := filepath.Join(dir, "Kai.key")
	tutorialpki.CopyFile(t, pki.File("Kai.key.enc"), keyFile, 0o600)
	_, err := certs.Load(dir, certs.Names{}, time.Now())
	msg := err.Error()
	start := strings.Index(msg, "`")
	end := strings.Index(msg[start+1:], "`")
	if start < 0 || end < 0 {
		t.Fatalf("no command in %q", msg)
	}
	// The person types the passphrase; the test passes it on the command line.
	command := strings.Replace(msg[start+1:start+1+end], ".new", ".new -passin pass:secret", 1)
	tutorialpki.RunIn(t, dir, "sh", "-c", command)
	if _, err := certs.Load(dir, certs.Names{}, time.Now()); err != nil {
		t.Fatalf("after %s: %v", command, err)
	}
}

func TestHygieneWarnings(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	certPEM, keyPEM := issueClient(t, ca, "Kai")
	caKey := mustKeyPEM(t, ca)

	t.Run("clean", func(t *testing.T) {
		dir := deviceDir(t, ca.CertPEM(), "Kai", certPEM, keyPEM)
		b, err := certs.Load(dir, certs.Names{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Warnings) != 0 {
			t.Errorf("warnings: %+v", b.Warnings)
		}
	})
	t.Run("key readable by others", func(t *testing.T) {
		dir := deviceDir(t, ca.CertPEM(), "Kai", certPEM, keyPEM)
		keyFile := filepath.Join(dir, "Kai.key")
		if err := os.Chmod(keyFile, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := certs.Load(dir, certs.Names{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Warnings) != 1 || b.Warnings[0].File != keyFile || !strings.Contains(b.Warnings[0].Message, "chmod 600 "+keyFile) || !strings.Contains(b.Warnings[0].Message, "0644") {
			t.Errorf("warnings: %+v", b.Warnings)
		}
	})
	t.Run("ca.key present", func(t *testing.T) {
		dir := deviceDir(t, ca.CertPEM(), "Kai", certPEM, keyPEM)
		writeFile(t, filepath.Join(dir, "ca.key"), []byte("whatever is in it"), 0o600)
		b, err := certs.Load(dir, certs.Names{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		wantCAKeyWarning(t, b, filepath.Join(dir, "ca.key"))
	})
	t.Run("CA key under another name", func(t *testing.T) {
		dir := deviceDir(t, ca.CertPEM(), "Kai", certPEM, keyPEM)
		writeFile(t, filepath.Join(dir, "backup.pem"), caKey, 0o600)
		// A key of another CA is not the CA key of this bundle.
		writeFile(t, filepath.Join(dir, "unrelated.key"), mustKeyPEM(t, newCA(t, "X", pki.KeyECDSAP256)), 0o600)
		b, err := certs.Load(dir, certs.Names{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		wantCAKeyWarning(t, b, filepath.Join(dir, "backup.pem"))
	})
}

func wantCAKeyWarning(t *testing.T, b *certs.Bundle, file string) {
	t.Helper()
	if len(b.Warnings) != 1 {
		t.Fatalf("want one warning, got %+v", b.Warnings)
	}
	w := b.Warnings[0]
	if w.File != file || w.MessageID != logging.MsgCAKeyOnDevice || !strings.Contains(w.Message, "CA's private key") || !strings.Contains(w.Message, file) {
		t.Errorf("warning %+v", w)
	}
}

func BenchmarkLoad(b *testing.B) {
	ca := newCA(b, "MQTT-CA", pki.KeyECDSAP256)
	c, k := issueClient(b, ca, "Kai")
	dir := deviceDir(b, ca.CertPEM(), "Kai", c, k)
	for b.Loop() {
		if _, err := certs.Load(dir, certs.Names{}, t0); err != nil {
			b.Fatal(err)
		}
	}
}
