package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/fleet"
)

// monitorACL is what the broker's acl_file needs for the console's identity.
const monitorACL = "user monitor\ntopic read #"

func cmdFleet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fleet", "[flags]", "Show every device on the broker: online or offline, last reading, missing and duplicate readings\n"+
		"(from seq), backlog, certificate days left, failing sensors. Connects with its own certificate,\n"+
		"e.g. the tutorial-style \"monitor\", whose ACL reads everything:\n\n  "+strings.ReplaceAll(monitorACL, "\n", "\n  ")+"\n\n"+
		"With --once, exit status 1 if any device is offline, has missing readings or a certificate within\ncerts.error_days.", stderr)
	var cf configFlags
	fs.StringVar(&cf.path, "config", "", "config file (default "+config.DefaultPath+" if it exists); its broker, certs and certs.error_days apply")
	fs.Var(&cf.brokers, "broker", "broker URL, e.g. ssl://127.0.0.1:8883 (overrides broker.urls)")
	fs.StringVar(&cf.certDir, "cert-dir", "", "directory with ca.crt and the console's own <name>.crt/<name>.key (overrides certs.dir)")
	fs.StringVar(&cf.certPrefix, "cert-prefix", "", "prefix of the file names in the cert dir, e.g. monitor_ for systemd credentials (overrides certs.prefix)")
	once := fs.Bool("once", false, "print the fleet once after --wait and exit")
	wait := fs.Duration("wait", 3*time.Second, "with --once: how long to collect the retained status and health messages and the readings")
	asJSON := fs.Bool("json", false, "print a JSON array, one object per device")
	settle := fs.Duration("settle", 30*time.Second, "how long a seq gap waits for the device to declare it skipped before it counts as missing")
	listen := fs.String("listen", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9643")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *once && *listen != "" {
		return errors.New("--once and --listen exclude each other: metrics need a console that keeps running")
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	model := fleet.New(fleet.Opts{ErrorDays: cfg.Certs.ErrorDays, Settle: *settle})
	if *listen != "" {
		// Serving before the broker answers: a scrape then tells that
		// the console runs but sees no device.
		srv, err := serveMetrics(*listen, model)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	client, err := connectFleet(ctx, cfg, model, !*once, stderr)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the broker
		}
		return err
	}
	defer client.Disconnect(250)

	if *once {
		select {
		case <-time.After(*wait):
		case <-ctx.Done():
			return nil
		}
		model.SettleAll()
		devices := model.Snapshot()
		if err := printFleet(stdout, devices, *asJSON, time.Now()); err != nil {
			return err
		}
		if len(devices) == 0 {
			fmt.Fprintf(stderr, "edgepub fleet: no device seen within %v: are devices running, and does the broker's acl_file give this identity\n%s\n", *wait, monitorACL)
			return exitCode(1)
		}
		for _, d := range devices {
			if d.Alarming() {
				return exitCode(1)
			}
		}
		return nil
	}

	terminal := isTerminal(stdout)
	if *listen != "" && !terminal && !*asJSON {
		<-ctx.Done() // a service: metrics only, nothing for the journal
		return nil
	}
	every := 10 * time.Second
	if terminal {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		var frame strings.Builder
		if terminal && !*asJSON {
			frame.WriteString("\x1b[H\x1b[2J") // home, clear: redraw in place
		}
		if err := printFleet(&frame, model.Snapshot(), *asJSON, time.Now()); err != nil {
			return err
		}
		if !*asJSON {
			frame.WriteString("\n")
		}
		io.WriteString(stdout, frame.String())
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// connectFleet connects to the first broker that accepts the console and
// subscribes to fleet.Topics. With keepTrying it retries until ctx ends
// and lets paho reconnect; otherwise the first failure is the error.
func connectFleet(ctx context.Context, cfg config.Config, model *fleet.Model, keepTrying bool, stderr io.Writer) (mqtt.Client, error) {
	names := certs.ConfigNames(cfg.Certs)
	bundle, err := certs.Load(cfg.Certs.Dir, names, time.Now())
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src := certs.NewSource(cfg.Certs.Dir, names, bundle, log)
	for {
		var errs []error
		for _, raw := range cfg.Broker.URLs {
			client, err := dialFleet(ctx, raw, bundle.Identity, src, model, keepTrying, stderr)
			if err == nil {
				return client, nil
			}
			errs = append(errs, fmt.Errorf("%s: %w", raw, err))
		}
		err := errors.Join(errs...)
		if !keepTrying {
			return nil, err
		}
		fmt.Fprintf(stderr, "edgepub fleet: %v; retrying in 5s\n", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

func dialFleet(ctx context.Context, raw, identity string, src *certs.Source, model *fleet.Model, reconnect bool, stderr io.Writer) (mqtt.Client, error) {
	brokerURL, host, err := config.ParseBrokerURL(raw)
	if err != nil {
		return nil, err
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	handle := func(_ mqtt.Client, m mqtt.Message) { model.Handle(m.Topic(), m.Payload(), m.Retained()) }
	subscribed := make(chan error, 1)
	o := mqtt.NewClientOptions().
		AddBroker(brokerURL).
		// The identity is the MQTT user; the suffix lets a cron job's
		// console run beside the service's without evicting it.
		SetClientID(identity + "-fleet-" + hex.EncodeToString(suffix)).
		SetTLSConfig(certs.ClientTLSConfig(src, certs.TLSOpts{Host: host})).
		SetCleanSession(true).
		SetAutoReconnect(reconnect).
		SetMaxReconnectInterval(30 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetOrderMatters(true).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			fmt.Fprintf(stderr, "edgepub fleet: lost the broker %s: %v; reconnecting\n", brokerURL, err)
		}).
		SetOnConnectHandler(func(c mqtt.Client) {
			// Readings published while the console was away are not the
			// devices' loss.
			model.Resync()
			filters := make(map[string]byte, len(fleet.Topics))
			for _, f := range fleet.Topics {
				filters[f] = 1
			}
			tok := c.SubscribeMultiple(filters, handle)
			go func() {
				err := waitToken(tok, 10*time.Second)
				if err == nil {
					err = subscribeRefused(tok, identity)
				}
				if err != nil {
					fmt.Fprintf(stderr, "edgepub fleet: %v\n", err)
				}
				select {
				case subscribed <- err:
				default:
				}
			}()
		})
	client := mqtt.NewClient(o)
	if err := waitToken(client.Connect(), 15*time.Second); err != nil {
		return nil, err
	}
	select {
	case err = <-subscribed:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		client.Disconnect(0)
		return nil, err
	}
	return client, nil
}

func waitToken(tok mqtt.Token, limit time.Duration) error {
	if !tok.WaitTimeout(limit) {
		return fmt.Errorf("no answer from the broker within %v", limit)
	}
	return tok.Error()
}

// subscribeRefused reports a subscription the broker refused (SUBACK 0x80).
func subscribeRefused(tok mqtt.Token, identity string) error {
	st, ok := tok.(*mqtt.SubscribeToken)
	if !ok {
		return nil
	}
	for filter, qos := range st.Result() {
		if qos == 0x80 {
			return fmt.Errorf("the broker refused the subscription %s for %s: its acl_file needs\n%s", filter, identity,
				strings.ReplaceAll(monitorACL, "monitor", identity))
		}
	}
	return nil
}

func serveMetrics(addr string, model *fleet.Model) (*http.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(fleet.NewCollector(model), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w: pick another address or port", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

// printFleet writes the devices as a table or as JSON.
func printFleet(w io.Writer, devices []fleet.Device, asJSON bool, now time.Time) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(devices)
	}
	online := 0
	for _, d := range devices {
		if d.Online {
			online++
		}
	}
	fmt.Fprintf(w, "%d devices, %d online, %s\n\n", len(devices), online, now.UTC().Format(time.DateTime+" UTC"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSTATE\tSINCE\tLAST READING\t/MIN\tMISSING\tSKIPPED\tDUP\tBACKLOG\tOLDEST\tRECONN\tCERT DAYS client/ca/broker\tVERSION\tFAILING\tDELIVERY")
	for _, d := range devices {
		state := "?"
		if d.StatusKnown {
			state = map[bool]string{true: "online", false: "OFFLINE"}[d.Online]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n",
			d.Device, state, ago(d.Since, now), ago(d.LastReading, now), d.ReadingsPerMinute,
			d.Missing, d.Skipped, d.Duplicates, d.Backlog, seconds(d.OldestAgeS), d.Reconnects,
			certDays(d), dash(d.Version), dash(strings.Join(d.FailingSensors, ",")), dash(d.Delivery))
	}
	return tw.Flush()
}

func certDays(d fleet.Device) string {
	parts := make([]string, 3)
	for i, which := range []string{"client", "ca", "broker"} {
		parts[i] = "-"
		if days, ok := d.CertsDaysLeft[which]; ok {
			parts[i] = strconv.Itoa(days)
		}
	}
	s := strings.Join(parts, "/")
	if d.CertExpiring {
		s += " !"
	}
	return s
}

// ago is how long ago t was, in the largest whole unit; "-" if unknown.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return seconds(now.Sub(t).Seconds()) + " ago"
}

func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d <= 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
