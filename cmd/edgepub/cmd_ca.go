package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/certs/signer"
	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/logging"
)

const caDirUsage = "the CA folder: the tutorial's (ca.crt and ca.key) or the DIR-ca-private folder of certs init"

func cmdCAServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ca serve", "--ca-dir DIR --broker URL --cert-dir DIR [flags]", "Sign the certificate requests that devices publish on <name>/certs/csr, answer on <name>/certs/issued,\nand write a new CRL well before the current one's nextUpdate. Runs until SIGINT or SIGTERM.", stderr)
	caDir := fs.String("ca-dir", "", caDirUsage)
	broker := fs.String("broker", "", "broker URL, e.g. ssl://127.0.0.1:8883 (default: broker.urls of --config)")
	certDir := fs.String("cert-dir", "", "folder with ca.crt and the signer's own signer.crt/signer.key (default: certs.dir of --config)")
	cfgPath := fs.String("config", "", "edgepub config file to take broker.urls and certs from")
	validity := daysFlag(fs, "validity", pki.DefaultValidity, "lifetime of issued certificates, e.g. 397d or 72h")
	crlValidity := daysFlag(fs, "crl-validity", pki.DefaultCRLValidity, "lifetime of each CRL; a new one is written when half is left")
	rateBurst := fs.Int("rate-burst", 3, "requests a device may make at once")
	rateEvery := fs.Duration("rate-every", time.Hour, "after the burst, one request per this interval and device")
	reload := fs.String("reload-command", strings.Join(signer.DefaultReloadCommand, " "), "command that makes Mosquitto read a new CRL; empty for none")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *caDir == "" {
		return requireFlag(fs, "ca-dir")
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath, false); err != nil {
			return err
		}
	}
	if *broker != "" {
		cfg.Broker.URLs = []string{*broker}
	} else if *cfgPath == "" {
		return usageError(fs, "no broker given: pass --broker ssl://HOST:8883, or --config with broker.urls")
	}
	if *certDir != "" {
		cfg.Certs.Dir, cfg.Certs.Cert, cfg.Certs.Key = *certDir, "", ""
	} else if *cfgPath == "" {
		return usageError(fs, "no certificate folder for the signer given: pass --cert-dir with ca.crt, signer.crt and signer.key")
	}
	url, host, err := config.ParseBrokerURL(cfg.Broker.URLs[0])
	if err != nil {
		return fmt.Errorf("--broker: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	logger := logging.New(logging.Opts{Level: level, Stderr: stderr})

	ca, err := pki.OpenAuthority(*caDir)
	if err != nil {
		return err
	}
	names := certs.ConfigNames(cfg.Certs)
	bundle, err := certs.Load(cfg.Certs.Dir, names, time.Now())
	if err != nil {
		return fmt.Errorf("the signer's own certificate: %w", err)
	}
	src := certs.NewSource(cfg.Certs.Dir, names, bundle, logger)
	go src.Watch(ctx, time.Now)
	return signer.Run(ctx, signer.Opts{
		Authority:     ca,
		BrokerURL:     url,
		TLS:           certs.ClientTLSConfig(src, certs.TLSOpts{Host: host}),
		ClientID:      bundle.Identity,
		Validity:      *validity,
		RateBurst:     *rateBurst,
		RateEvery:     *rateEvery,
		CRLValidity:   *crlValidity,
		ReloadCommand: strings.Fields(*reload),
		Logger:        logger,
	})
}

func cmdCARevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ca revoke", "--ca-dir DIR NAME|SERIAL|FILE [--reason R]", "Revoke a device's certificates (NAME: all of them), one serial (hex, as index.txt shows it) or the\ncertificate in FILE (for certificates made by hand); then write crl.pem and make Mosquitto reload it.", stderr)
	caDir := fs.String("ca-dir", "", caDirUsage)
	reason := fs.String("reason", "", "why: "+strings.Join(pki.ReasonNames(), ", "))
	crlValidity := daysFlag(fs, "crl-validity", pki.DefaultCRLValidity, "lifetime of the new CRL")
	reload := fs.String("reload-command", strings.Join(signer.DefaultReloadCommand, " "), "command that makes Mosquitto read the new CRL; empty for none")
	if help, err := parseArgs(fs, args, stdout, 1, 1); help || err != nil {
		return err
	}
	if *caDir == "" {
		return requireFlag(fs, "ca-dir")
	}
	ca, err := pki.OpenAuthority(*caDir)
	if err != nil {
		return err
	}
	logger := logging.New(logging.Opts{Stderr: stderr})
	now := time.Now()
	done, err := ca.Revoke(fs.Arg(0), *reason, now)
	if err != nil {
		return err
	}
	for _, e := range done {
		logger.Info("certificate revoked", "device", e.CN(), "serial", pki.SerialHex(e.Serial), "reason", cmp.Or(*reason, "unspecified"), logging.MessageID(logging.MsgCertRevoked))
		fmt.Fprintf(stdout, "revoked %s serial %s\n", e.CN(), pki.SerialHex(e.Serial))
	}
	return writeCRL(ctx, ca, now, *crlValidity, strings.Fields(*reload), stdout, logger)
}

func cmdCACRL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ca crl", "--ca-dir DIR", "Write crl.pem beside ca.crt from index.txt, for Mosquitto's crlfile.", stderr)
	caDir := fs.String("ca-dir", "", caDirUsage)
	crlValidity := daysFlag(fs, "validity", pki.DefaultCRLValidity, "lifetime of the CRL; Mosquitto refuses every client once it has passed")
	reload := fs.String("reload-command", "", "command that makes Mosquitto read it, e.g. \"systemctl reload mosquitto\"")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *caDir == "" {
		return requireFlag(fs, "ca-dir")
	}
	ca, err := pki.OpenAuthority(*caDir)
	if err != nil {
		return err
	}
	return writeCRL(ctx, ca, time.Now(), *crlValidity, strings.Fields(*reload), stdout, logging.New(logging.Opts{Stderr: stderr}))
}

func writeCRL(ctx context.Context, ca *pki.Authority, now time.Time, validity time.Duration, reload []string, stdout io.Writer, logger *slog.Logger) error {
	crl, err := ca.WriteCRL(now, validity)
	if err != nil {
		return err
	}
	logger.Info("CRL written", "file", ca.CRLFile, "number", crl.Number.String(), "revoked", len(crl.RevokedCertificateEntries), "next_update", crl.NextUpdate, "reason", "command", logging.MessageID(logging.MsgCRLWritten))
	fmt.Fprintf(stdout, "wrote %s (%d revoked, next update %s)\n", ca.CRLFile, len(crl.RevokedCertificateEntries), crl.NextUpdate.Format(time.RFC3339))
	if len(reload) == 0 {
		fmt.Fprintf(stdout, "Mosquitto reads it after `systemctl reload mosquitto` (crlfile %s in mosquitto.conf).\n", ca.CRLFile)
		return nil
	}
	return signer.RunReload(ctx, reload, logger)
}

func cmdCACheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ca check", "--ca-dir DIR", "Check the CA folder on the broker host: the CA key's permissions, the CA's expiry, the CRL's freshness\nand what index.txt records. Exit status 0 only if all pass.", stderr)
	caDir := fs.String("ca-dir", "", caDirUsage)
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *caDir == "" {
		return requireFlag(fs, "ca-dir")
	}
	p := newPrinter(stdout)
	now := time.Now()
	failed := false
	step := func(name string, ok bool, detail, fix string) {
		p.stepLine(name, ok, detail, fix)
		failed = failed || !ok
	}
	ca, err := pki.OpenAuthority(*caDir)
	if err != nil {
		step("ca folder", false, err.Error(), "")
		return exitCode(1)
	}
	step("ca folder", true, ca.KeyFile+" (mode 0600), "+ca.CertFile, "")
	left := ca.Cert.NotAfter.Sub(now)
	step("ca expiry", left > 30*24*time.Hour, fmt.Sprintf("%s expires %s (%s days)", ca.Cert.Subject.CommonName, ca.Cert.NotAfter.Format(time.DateOnly), strconv.Itoa(int(left.Hours()/24))),
		"make a new CA and move devices to it before this date; a device with a certificate of the old CA cannot renew once it has expired")
	crl, err := ca.CRL()
	switch {
	case err != nil:
		step("crl", false, err.Error(), "run `edgepub ca crl --ca-dir "+*caDir+"` and set `crlfile "+ca.CRLFile+"` in mosquitto.conf")
	case !now.Before(crl.NextUpdate):
		step("crl", false, fmt.Sprintf("%s passed its nextUpdate %s: Mosquitto refuses every client", ca.CRLFile, crl.NextUpdate.Format(time.RFC3339)),
			"run `edgepub ca crl --ca-dir "+*caDir+" --reload-command 'systemctl reload mosquitto'` now, and keep `edgepub ca serve` running so it is refreshed in time")
	default:
		rest := crl.NextUpdate.Sub(now)
		ok := rest > crl.NextUpdate.Sub(crl.ThisUpdate)/4
		step("crl", ok, fmt.Sprintf("%s number %s, %d revoked, next update %s (in %s)", ca.CRLFile, crl.Number, len(crl.RevokedCertificateEntries), crl.NextUpdate.Format(time.RFC3339), roughly(rest)),
			"the CRL is not being refreshed: is `edgepub ca serve` running? Run `edgepub ca crl` and reload Mosquitto")
	}
	entries, err := ca.Index()
	if err != nil {
		step("index.txt", false, err.Error(), "")
	} else {
		valid, revoked := 0, 0
		for _, e := range entries {
			switch {
			case e.Status == 'R':
				revoked++
			case e.Expires.After(now):
				valid++
			}
		}
		step("index.txt", true, fmt.Sprintf("%d certificates valid, %d revoked", valid, revoked), "")
	}
	if failed {
		return exitCode(1)
	}
	return nil
}

// stepLine prints one check result as check does.
func (p printer) stepLine(name string, ok bool, detail, fix string) {
	mark := p.paint("32", "PASS")
	if !ok {
		mark = p.paint("31;1", "FAIL")
	}
	fmt.Fprintf(p.w, "%s  %-16s %s\n", mark, name, detail)
	if !ok && fix != "" {
		fmt.Fprintf(p.w, "      %-16s %s %s\n", "", p.paint("33", "fix:"), fix)
	}
}

// days is a duration flag that also takes days: "397d".
type days struct{ d *time.Duration }

func daysFlag(fs *flag.FlagSet, name string, def time.Duration, usage string) *time.Duration {
	d := def
	fs.Var(days{&d}, name, usage)
	return &d
}

func (v days) String() string {
	if v.d == nil {
		return ""
	}
	if *v.d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(*v.d/(24*time.Hour))) + "d"
	}
	return v.d.String()
}

func (v days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		i, err := strconv.Atoi(n)
		if err != nil || i <= 0 {
			return fmt.Errorf("%q: write a number of days such as 397d, or a duration such as 72h", s)
		}
		*v.d = time.Duration(i) * 24 * time.Hour
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q: write a number of days such as 397d, or a duration such as 72h", s)
	}
	*v.d = d
	return nil
}

// roughly writes a duration as days once it is more than two.
func roughly(d time.Duration) string {
	if d > 48*time.Hour {
		return strconv.Itoa(int(d.Hours()/24)) + " days"
	}
	return d.Round(time.Second).String()
}
