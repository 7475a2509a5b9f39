package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/testutil"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// seedBroker is a seed-style PKI made with openssl: a broker certificate
// per CN and the device folder of Kai.
type seedBroker struct {
	pki       *tutorialpki.PKI
	deviceDir string
	src       *certs.Source
}

func newSeedBroker(t *testing.T, serverCNs ...string) *seedBroker {
	t.Helper()
	pki := tutorialpki.New(t, t.TempDir(), tutorialpki.Opts{Clients: []string{"Kai"}})
	for i, cn := range serverCNs {
		pki.Issue(t, serverBase(i), cn, 825)
		if v := pki.Version(t, serverBase(i)+".crt"); v != 1 {
			t.Fatalf("seed server certificate is X.509 v%d, want v1", v)
		}
	}
	dir := pki.DeviceDir(t, "Kai")
	b, err := certs.Load(dir, certs.Names{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &seedBroker{pki: pki, deviceDir: dir, src: certs.NewSource(dir, certs.Names{}, b, nil)}
}

func serverBase(i int) string { return "server" + string(rune('a'+i)) }

// serverConfig is a broker like the seed's mosquitto.conf: its certificate
// from certBase, client certificates required and checked against ca.crt.
func (sb *seedBroker) serverConfig(t *testing.T, certBase string) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(sb.pki.File(certBase+".crt"), sb.pki.File(certBase+".key"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(sb.src.Current().CA[0])
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
}

func TestSeedLegacyServerCert(t *testing.T) {
	t.Parallel()
	sb := newSeedBroker(t, "127.0.0.1", "Broker.Example", "::1")
	now := time.Now()
	for _, tc := range []struct {
		name     string
		server   string
		host     string
		now      time.Time
		wantOK   bool
		wantErr  []string
		wantKind error
	}{
		{name: "IP as in the seed", server: "servera", host: "127.0.0.1", wantOK: true},
		{name: "DNS name, other case, trailing dot", server: "serverb", host: "broker.example.", wantOK: true},
		{name: "IPv6 written differently", server: "serverc", host: "0:0:0:0:0:0:0:1", wantOK: true},
		{name: "wrong IP", server: "servera", host: "127.0.0.2", wantErr: []string{"broker certificate is for 127.0.0.1, not for host 127.0.0.2", "subjectAltName=IP:127.0.0.2"}, wantKind: certs.ErrUnusable},
		{name: "IP host, DNS CN", server: "serverb", host: "127.0.0.1", wantErr: []string{"is for Broker.Example, not for host 127.0.0.1"}},
		{name: "wrong DNS name", server: "serverb", host: "other.example", wantErr: []string{"not for host other.example", "subjectAltName=DNS:other.example"}},
		{name: "expired", server: "servera", host: "127.0.0.1", now: now.Add(826 * 24 * time.Hour), wantErr: []string{"broker certificate", "expired on"}, wantKind: certs.ErrExpired},
		{name: "not yet valid", server: "servera", host: "127.0.0.1", now: now.Add(-48 * time.Hour), wantErr: []string{"broker certificate", "not valid before", "NTP"}, wantKind: certs.ErrNotYetValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := tc.now
			if clock.IsZero() {
				clock = now
			}
			// Each case has its own Source: legacy certificates are reported
			// once per Source.
			src := certs.NewSource(sb.deviceDir, certs.Names{}, sb.src.Current(), nil)
			var legacy, seen atomic.Int32
			opts := certs.TLSOpts{
				Host:               tc.host,
				Now:                func() time.Time { return clock },
				OnLegacyServerCert: func(*x509.Certificate) { legacy.Add(1) },
				OnServerCert:       func(*x509.Certificate) { seen.Add(1) },
			}
			srvConf := sb.serverConfig(t, tc.server)
			for range 2 {
				// A new config per connection, as the publisher makes them.
				res := handshake(t, srvConf, certs.ClientTLSConfig(src, opts))
				if !tc.wantOK {
					t.Log(res.clientErr)
					testutil.WantOneLineError(t, res.clientErr, tc.wantErr...)
					if tc.wantKind != nil && !errors.Is(res.clientErr, tc.wantKind) {
						t.Errorf("%v is not %v", res.clientErr, tc.wantKind)
					}
					continue
				}
				if res.clientErr != nil || res.serverErr != nil {
					t.Fatalf("handshake: client %v, server %v", res.clientErr, res.serverErr)
				}
				if res.peerCN != "Kai" {
					t.Errorf("broker saw client %q, want Kai", res.peerCN)
				}
				if res.state.Version < tls.VersionTLS12 {
					t.Errorf("TLS version %x", res.state.Version)
				}
			}
			wantLegacy, wantSeen := int32(0), int32(0)
			if tc.wantOK {
				wantLegacy, wantSeen = 1, 2
			}
			if legacy.Load() != wantLegacy || seen.Load() != wantSeen {
				t.Errorf("OnLegacyServerCert called %d times, OnServerCert %d; want %d and %d", legacy.Load(), seen.Load(), wantLegacy, wantSeen)
			}
		})
	}
}

func TestSeedForeignCA(t *testing.T) {
	t.Parallel()
	ours := newSeedBroker(t)
	theirs := newSeedBroker(t, "127.0.0.1")
	cliConf := certs.ClientTLSConfig(ours.src, certs.TLSOpts{Host: "127.0.0.1"})
	res := handshake(t, theirs.serverConfig(t, "servera"), cliConf)
	testutil.WantOneLineError(t, res.clientErr, "broker certificate", "not signed by "+filepath.Join(ours.deviceDir, "ca.crt"), "copy the broker's ca.crt")
	if !errors.Is(res.clientErr, certs.ErrNotSignedByCA) {
		t.Errorf("%v is not ErrNotSignedByCA", res.clientErr)
	}
}

// TestSeedExpiredByOpenSSL uses a broker certificate openssl made valid for
// one day, checked two days later (OpenSSL 3.0 cannot backdate -not_after).
func TestSeedExpiredByOpenSSL(t *testing.T) {
	t.Parallel()
	sb := newSeedBroker(t)
	sb.pki.Issue(t, "shortlived", "127.0.0.1", 1)
	later := time.Now().Add(48 * time.Hour)
	cliConf := certs.ClientTLSConfig(sb.src, certs.TLSOpts{Host: "127.0.0.1", Now: func() time.Time { return later }})
	res := handshake(t, sb.serverConfig(t, "shortlived"), cliConf)
	testutil.WantOneLineError(t, res.clientErr, "broker certificate (CN=127.0.0.1) expired on", "server.crt must be renewed")
}

// TestModernServerCertMatchedBySAN: a certificate with subjectAltName is
// matched only by it; its CN is ignored, as RFC 6125 and Go want.
func TestModernServerCertMatchedBySAN(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "MQTT-CA", pki.KeyECDSAP256)
	certPEM, keyPEM := issueClient(t, ca, "Kai")
	dir := deviceDir(t, ca.CertPEM(), "Kai", certPEM, keyPEM)
	b, err := certs.Load(dir, certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	src := certs.NewSource(dir, certs.Names{}, b, nil)
	srvCert, srvKey, err := ca.Issue(pki.IssueRequest{CommonName: "ignored-cn", Server: true, Hosts: []string{"broker.example", "10.0.0.7"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)})
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
	for _, tc := range []struct {
		host string
		ok   bool
	}{{"broker.example", true}, {"10.0.0.7", true}, {"ignored-cn", false}, {"10.0.0.8", false}} {
		var legacy atomic.Int32
		cliConf := certs.ClientTLSConfig(src, certs.TLSOpts{Host: tc.host, Now: func() time.Time { return t0 }, OnLegacyServerCert: func(*x509.Certificate) { legacy.Add(1) }})
		res := handshake(t, srvConf, cliConf)
		if tc.ok && (res.clientErr != nil || res.serverErr != nil) {
			t.Errorf("host %s: client %v, server %v", tc.host, res.clientErr, res.serverErr)
		}
		if !tc.ok {
			testutil.WantOneLineError(t, res.clientErr, "broker certificate is for broker.example, 10.0.0.7, not for host "+tc.host)
		}
		if legacy.Load() != 0 {
			t.Errorf("host %s: a certificate with SAN was reported as legacy", tc.host)
		}
	}
}

// TestResumedSessionIsVerified: the broker check must also run when TLS
// resumes a session, which VerifyPeerCertificate would skip. The second
// connection resumes at a clock after the broker certificate's expiry and
// must fail.
func TestResumedSessionIsVerified(t *testing.T) {
	t.Parallel()
	sb := newSeedBroker(t, "127.0.0.1")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", sb.serverConfig(t, "servera"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.(*tls.Conn).Handshake()
				_, _ = conn.Write([]byte("x")) // lets the client receive the session ticket
				_, _ = conn.Read(make([]byte, 1))
			}()
		}
	}()

	var clock atomic.Pointer[time.Time]
	start := time.Now()
	clock.Store(&start)
	var verified atomic.Int32
	cliConf := certs.ClientTLSConfig(sb.src, certs.TLSOpts{
		Host:         "127.0.0.1",
		Now:          func() time.Time { return *clock.Load() },
		OnServerCert: func(*x509.Certificate) { verified.Add(1) },
	})
	cliConf.ClientSessionCache = tls.NewLRUClientSessionCache(4)

	dial := func() (tls.ConnectionState, error) {
		conn, err := tls.Dial("tcp", ln.Addr().String(), cliConf)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer conn.Close()
		if _, err := conn.Read(make([]byte, 1)); err != nil {
			return tls.ConnectionState{}, err
		}
		return conn.ConnectionState(), nil
	}
	if _, err := dial(); err != nil {
		t.Fatal(err)
	}
	st, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if !st.DidResume {
		t.Fatal("second connection did not resume; the test proves nothing")
	}
	if verified.Load() != 2 {
		t.Errorf("broker certificate verified %d times for 2 connections", verified.Load())
	}
	expired := start.Add(900 * 24 * time.Hour)
	clock.Store(&expired)
	_, err = dial()
	testutil.WantOneLineError(t, err, "expired on")
	ln.Close()
}

// TestLegacyReissueHintWorks runs the hint's commands where the seed keeps
// its files and checks that Go's standard verifier accepts the result.
func TestLegacyReissueHintWorks(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"192.0.2.10", "broker.example"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			pki := tutorialpki.New(t, t.TempDir(), tutorialpki.Opts{ServerCN: host})
			hint := certs.LegacyReissueHint(host)
			if !strings.HasSuffix(hint, " && systemctl restart mosquitto") {
				t.Fatalf("hint %q does not end with the restart", hint)
			}
			tutorialpki.RunIn(t, pki.Dir, "bash", "-c", strings.TrimSuffix(hint, " && systemctl restart mosquitto"))
			if v := pki.Version(t, "server.crt"); v != 3 {
				t.Errorf("reissued certificate is v%d", v)
			}
			caPair, err := tls.LoadX509KeyPair(pki.File("ca.crt"), pki.File("ca.key"))
			if err != nil {
				t.Fatal(err)
			}
			srvPair, err := tls.LoadX509KeyPair(pki.File("server.crt"), pki.File("server.key"))
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(caPair.Leaf)
			if _, err := srvPair.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("Go rejects the reissued certificate: %v", err)
			}
			if ip := net.ParseIP(host); ip != nil && (len(srvPair.Leaf.IPAddresses) != 1 || !srvPair.Leaf.IPAddresses[0].Equal(ip)) {
				t.Errorf("IP SAN %v", srvPair.Leaf.IPAddresses)
			}
		})
	}
}

// TestBrokerChainWithIntermediate: the broker sends leaf and intermediate,
// the device's ca.crt holds only the root.
func TestBrokerChainWithIntermediate(t *testing.T) {
	t.Parallel()
	root := newCA(t, "Root-CA", pki.KeyECDSAP256)
	inter, err := root.IssueIntermediate("Issuing-CA", t0)
	if err != nil {
		t.Fatal(err)
	}
	c, k := issueClient(t, root, "Kai")
	b, err := certs.Load(deviceDir(t, root.CertPEM(), "Kai", c, k), certs.Names{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := inter.IssueServer("broker.example", t0)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(root.Cert)
	for _, tc := range []struct {
		name      string
		chain     []byte
		wantError bool
	}{
		{"with intermediate", append(append([]byte{}, srvCert...), inter.CertPEM()...), false},
		{"intermediate missing", srvCert, true},
	} {
		pair, err := tls.X509KeyPair(tc.chain, srvKey)
		if err != nil {
			t.Fatal(err)
		}
		srvConf := &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs, Time: func() time.Time { return t0 }}
		cliConf := certs.ClientTLSConfig(certs.NewSource(b.Dir, certs.Names{}, b, nil), certs.TLSOpts{Host: "broker.example", Now: func() time.Time { return t0 }})
		res := handshake(t, srvConf, cliConf)
		if tc.wantError {
			testutil.WantOneLineError(t, res.clientErr, "issued by CN=Issuing-CA", "not signed by")
		} else if res.clientErr != nil || res.serverErr != nil {
			t.Errorf("%s: client %v, server %v", tc.name, res.clientErr, res.serverErr)
		}
	}
}
