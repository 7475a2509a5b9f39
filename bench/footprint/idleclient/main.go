// Command idleclient is the baseline for edgepub's memory footprint: a bare
// paho client connected over mutual TLS with the same certificate handling
// as edgepub, doing nothing but keepalives until SIGTERM or -duration.
//
//	idleclient -broker ssl://127.0.0.1:8883 -certs DIR -duration 2m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgepub/edgepub/certs"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "idleclient:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("idleclient", flag.ContinueOnError)
	broker := fs.String("broker", "", "broker URL, ssl://127.0.0.1:PORT (loopback only)")
	certDir := fs.String("certs", "", "cert dir: ca.crt and one <name>.crt/<name>.key; the CN is the client id")
	duration := fs.Duration("duration", 3*time.Minute, "stay connected this long at most")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*broker)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("-broker %q: want ssl://127.0.0.1:PORT", *broker)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-broker %q: only loopback addresses are allowed", *broker)
	}
	bundle, err := certs.Load(*certDir, certs.Names{}, time.Now())
	if err != nil {
		return err
	}
	src := certs.NewSource(*certDir, certs.Names{}, bundle, nil)
	o := mqtt.NewClientOptions().AddBroker(*broker).SetClientID(bundle.Identity).
		SetTLSConfig(certs.ClientTLSConfig(src, certs.TLSOpts{Host: u.Hostname()})).
		SetCleanSession(true).SetAutoReconnect(false).SetKeepAlive(30 * time.Second)
	client := mqtt.NewClient(o)
	if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return errors.Join(errors.New("connect failed"), tok.Error())
	}
	defer client.Disconnect(100)
	fmt.Println("connected")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	<-ctx.Done()
	return nil
}
