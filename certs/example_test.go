package certs_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/internal/logging"
)

// Example shows the daemon's wiring: load the bundle (staying up when only
// the validity is wrong), build the MQTT TLS config, watch for rotated files
// and for expiry.
func Example() {
	tmp, err := os.MkdirTemp("", "edgepub-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "mqtt-certs")
	if _, err := pki.InitPKI(pki.InitOpts{Dir: dir, Host: "192.168.137.150", Clients: []string{"Kai"}}); err != nil {
		log.Fatal(err)
	}
	// A device folder holds only ca.crt, Kai.crt and Kai.key.
	for _, f := range []string{"server.crt", "server.key"} {
		os.Remove(filepath.Join(dir, f))
	}

	logger := slog.New(slog.DiscardHandler)
	b, err := certs.Load(dir, certs.Names{}, time.Now())
	var validity *certs.ValidityError
	switch {
	case errors.As(err, &validity):
		// Keep running: queue readings, wait for a renewed certificate or the clock.
		logger.Error(err.Error(), logging.MessageID(logging.MsgCertExpired))
	case err != nil:
		log.Fatal(err) // one line naming the file and the fix
	}
	b.LogWarnings(context.Background(), logger)

	src := certs.NewSource(dir, certs.Names{}, b, logger)
	expiry := certs.NewExpiryWatcher(src, certs.ExpiryOpts{Logger: logger})
	tlsConf := certs.ClientTLSConfig(src, certs.TLSOpts{
		Host: "192.168.137.150",
		OnLegacyServerCert: func(c *x509.Certificate) {
			logger.Warn("the broker certificate has no subjectAltName; reissue it with: "+certs.LegacyReissueHint("192.168.137.150"),
				logging.MessageID(logging.MsgLegacyServerCert))
		},
		OnServerCert: expiry.SetBrokerCert,
	})
	ctx, cancel := context.WithCancel(context.Background())
	go src.Watch(ctx, time.Now)
	go expiry.Run(ctx)
	cancel()

	days, _ := expiry.DaysLeft()
	fmt.Println("identity:", src.Current().Identity)
	fmt.Println("TLS 1.2 or newer:", tlsConf.MinVersion == 0x0303)
	fmt.Println("days left:", days)
	// Output:
	// identity: Kai
	// TLS 1.2 or newer: true
	// days left: 824
}
