package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/edgepub/edgepub/certs/pki"
)

// runHandshakes measures what one device's connect costs the broker, by
// key type: two Mosquittos, one with an ECDSA P-256 PKI and one with the
// tutorial's RSA 2048, each take o.n connects (TLS handshake with client
// certificate, MQTT CONNECT, CONNACK, DISCONNECT) from -conns clients at
// once, in interleaved rounds; the broker's utime+stime over each round is
// the figure a fleet owner sizes the broker host by.
func runHandshakes(ctx context.Context, o options, rounds int) error {
	if _, err := raiseFileLimit(1024); err != nil {
		return err
	}
	bin, err := lookMosquitto()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "edgepub-handshakes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say("handshakes: %d connects per round and key type, %d rounds interleaved, %d at once; load average %s", o.n, rounds, o.console.conns, loadAverage())

	type subject struct {
		name string
		b    *broker
		conf *tls.Config
		cpu  time.Duration
		wall time.Duration
	}
	var subjects []*subject
	for _, kt := range []pki.KeyType{pki.KeyECDSAP256, pki.KeyRSA2048} {
		root := filepath.Join(dir, string(kt))
		files, ids, err := makePKI(root, 1, keyOpts{Type: kt}, time.Now())
		if err != nil {
			return fmt.Errorf("pki: %w", err)
		}
		conf, err := deviceTLS(files.CA, ids[0])
		if err != nil {
			return err
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(root, "broker"), 0o700); err != nil {
			return err
		}
		b, err := newBroker(bin, filepath.Join(root, "broker"), port, files, "")
		if err != nil {
			return err
		}
		if err := b.start(ctx); err != nil {
			return err
		}
		defer b.kill()
		subjects = append(subjects, &subject{name: string(kt), b: b, conf: conf})
	}
	for r := 0; r < rounds; r++ {
		for _, s := range subjects {
			before, start := s.b.cpu(), time.Now()
			if err := connectMany(ctx, s.b.addr(), s.conf, o.n, o.console.conns); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			wall := time.Since(start)
			cpu := s.b.cpu() - before
			s.cpu += cpu
			s.wall += wall
			say("  round %d %-10s broker CPU %v for %d connects = %v per connect (%.0f connects/s, broker at %.0f%% of a core)",
				r+1, s.name, cpu, o.n, perConnect(cpu, o.n), float64(o.n)/wall.Seconds(), 100*float64(cpu)/float64(wall))
		}
	}
	total := o.n * rounds
	ec, rsa := subjects[0], subjects[1]
	say("broker CPU per connect: %s %v, %s %v (%.1f× the EC figure); one core takes about %.0f EC or %.0f RSA connects per second; load average %s",
		ec.name, perConnect(ec.cpu, total), rsa.name, perConnect(rsa.cpu, total), float64(rsa.cpu)/float64(ec.cpu),
		float64(total)/ec.cpu.Seconds(), float64(total)/rsa.cpu.Seconds(), loadAverage())
	return nil
}

// deviceTLS is a device's client TLS configuration from its cert dir.
func deviceTLS(caFile string, id identity) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(id.CertDir, id.Name+".crt"), filepath.Join(id.CertDir, id.Name+".key"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New(caFile + ": no certificate")
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, nil
}

// connectMany makes n full connects to addr, parallel at a time.
func connectMany(ctx context.Context, addr string, conf *tls.Config, n, parallel int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, parallel)
	for w := 0; w < parallel; w++ {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := connectOnce(ctx, addr, conf, fmt.Sprintf("hs-%d", i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func connectOnce(ctx context.Context, addr string, conf *tls.Config, clientID string) error {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: conf}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	connect := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	connect.ProtocolName, connect.ProtocolVersion = "MQTT", 4
	connect.CleanSession, connect.Keepalive, connect.ClientIdentifier = true, 30, clientID
	if err := connect.Write(c); err != nil {
		return err
	}
	p, err := packets.ReadPacket(c)
	if err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if ack, ok := p.(*packets.ConnackPacket); !ok || ack.ReturnCode != 0 {
		return fmt.Errorf("broker refused the connect: %v", p)
	}
	return packets.NewControlPacket(packets.Disconnect).Write(c)
}
