//go:build !nodemo

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/daemon"
	"github.com/edgepub/edgepub/internal/demobroker"
	"github.com/edgepub/edgepub/internal/logging"
)

// demoBuilt: the demo and its embedded broker are in this binary.
const demoBuilt = true

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "[flags]", "Run edgepub locally with nothing installed: a throwaway PKI, an embedded broker on 127.0.0.1\nthat enforces the tutorial's rules (client certificate required, CN as user name, %u/# ACL),\nsimulated sensors, and a subscriber that prints what arrives. Stops on Ctrl-C.", stderr)
	device := fs.String("device", "demo-pi", "device `NAME`: the client certificate's CN")
	interval := fs.Duration("interval", 2*time.Second, "`TIME` between simulated readings")
	duration := fs.Duration("duration", 0, "stop after `TIME` (default: run until Ctrl-C)")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	dir, err := os.MkdirTemp("", "edgepub-demo-")
	if err != nil {
		return fmt.Errorf("demo: temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)

	certDir := filepath.Join(dir, "certs")
	if _, err := pki.InitPKI(pki.InitOpts{Dir: certDir, CAKeyDir: filepath.Join(dir, "ca-private"), Host: "127.0.0.1", Clients: []string{*device}}); err != nil {
		return fmt.Errorf("demo: make PKI: %w", err)
	}
	serverTLS, err := demoServerTLS(certDir)
	if err != nil {
		return err
	}
	logger := logging.New(logging.Opts{Stderr: stderr, ForceText: true})
	broker, err := demobroker.Start(ctx, demobroker.Opts{TLS: serverTLS, Logger: logger})
	if err != nil {
		return fmt.Errorf("demo: start broker: %w", err)
	}
	defer broker.Close()
	var mu sync.Mutex
	if err := broker.Subscribe("#", func(m demobroker.Message) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "subscriber ← %s %s\n", m.Topic, m.Payload)
	}); err != nil {
		return fmt.Errorf("demo: subscribe: %w", err)
	}
	fmt.Fprintf(stdout, "edgepub demo: broker %s, certificates in %s, device %q; Ctrl-C stops.\n", broker.URL(), certDir, *device)

	cfg := config.Default()
	cfg.Broker.URLs = []string{broker.URL()}
	cfg.Broker.StartJitter = 0
	cfg.Certs.Dir, cfg.Certs.Cert, cfg.Certs.Key = certDir, *device+".crt", *device+".key"
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Sensors = config.SimulatedSensors(*interval)
	cfg.Presence.HealthInterval = config.Duration(max(10*time.Second, 5**interval))
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return runDaemon(ctx, daemon.Opts{Config: cfg, Logger: logger})
}

// demoServerTLS is the broker side of the tutorial's listener: its own
// certificate, and client certificates required and verified against ca.crt.
func demoServerTLS(certDir string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(certDir, "server.crt"), filepath.Join(certDir, "server.key"))
	if err != nil {
		return nil, fmt.Errorf("demo: server certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(certDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("demo: %s holds no certificate", filepath.Join(certDir, "ca.crt"))
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}
