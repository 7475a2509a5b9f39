package publisher

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgepub/edgepub/internal/mosquittotest"
	"github.com/edgepub/edgepub/internal/tutorialpki"
)

// plainListener adds a plain MQTT listener on a free loopback port to a real
// Mosquitto, as a broker with the default 1883 listener has.
func plainListener(t *testing.T, pki *tutorialpki.PKI) (tlsURL, plainAddr string) {
	t.Helper()
	port := strconv.Itoa(mosquittotest.FreePort(t))
	b := mosquittotest.Start(t, mosquittotest.Opts{PKI: pki, Extra: []string{"", "listener " + port + " 127.0.0.1"}})
	plainAddr = net.JoinHostPort("127.0.0.1", port)
	// Start waits for the TLS listener; Mosquitto opens the second a moment
	// later.
	waitFor(t, "the plain listener", func() bool {
		c, err := net.DialTimeout("tcp", plainAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return b.URL(), plainAddr
}

// silentListener accepts TCP connections and never says anything.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

func TestProbeNotTLS(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	tlsURL, plain := plainListener(t, pki)
	ctx := context.Background()

	err := ProbeNotTLS(ctx, plain, 3*time.Second)
	_, port, _ := net.SplitHostPort(plain)
	if !errors.Is(err, ErrNotTLS) || !strings.Contains(err.Error(), "port "+port+" of 127.0.0.1 is plain MQTT") || !strings.Contains(err.Error(), "TLS listener is 8883") {
		t.Errorf("plain MQTT port: %v", err)
	}
	silent := silentListener(t)
	err = ProbeNotTLS(ctx, silent, time.Second)
	if !errors.Is(err, ErrNotTLS) || !strings.Contains(err.Error(), "accepts TCP connections but answers neither") {
		t.Errorf("silent port: %v", err)
	}
	if err := ProbeNotTLS(ctx, strings.TrimPrefix(tlsURL, "ssl://"), 3*time.Second); err != nil {
		t.Errorf("the TLS listener was taken for something else: %v", err)
	}
	if err := ProbeNotTLS(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(mosquittotest.FreePort(t))), time.Second); err != nil {
		t.Errorf("a closed port was taken for a listener: %v", err)
	}
}

// run names a port without TLS as such, never as a certificate problem.
func TestRunNamesPortWithoutTLS(t *testing.T) {
	pki := mosquittotest.NewSeedPKI(t, "127.0.0.1", "Kai")
	_, plain := plainListener(t, pki)
	for name, addr := range map[string]string{"plain MQTT": plain, "silent": silentListener(t)} {
		t.Run(name, func(t *testing.T) {
			o := testOpts(t, "ssl://"+addr, loadSource(t, pki.DeviceDir(t, "Kai")))
			o.ConnectTimeout = time.Second
			p := New(newMemQueue(), o)
			defer start(t, p)()
			waitFor(t, "the connect error", func() bool { return p.Status().LastError != "" })
			msg := p.Status().LastError
			if !strings.Contains(msg, "does not speak TLS") || !strings.Contains(msg, "8883") || strings.Contains(msg, "certificate") {
				t.Errorf("LastError = %q", msg)
			}
		})
	}
}

// A probe waiting on a silent port ends as soon as edgepub stops, not when
// its timeout runs out.
func TestProbeNotTLSEndsWithCtx(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		cancel() // the probe is connected and waiting for an answer
		<-t.Context().Done()
	}()
	done := make(chan error, 1)
	go func() { done <- ProbeNotTLS(ctx, ln.Addr().String(), time.Hour) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("a probe cut short by its ctx reported %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the probe went on for a minute after its ctx was done")
	}
}
