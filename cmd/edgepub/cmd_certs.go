package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/inspect"
	"github.com/edgepub/edgepub/certs/pki"
	"github.com/edgepub/edgepub/config"
)

func cmdCertsInspect(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("certs inspect", "[DIR] [--json]", "Show what is in a certificate folder (default "+config.DefaultCertDir+") and whether it fits together.\nExit status 1 when the folder is NOT USABLE as it is.", stderr)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if help, err := parseArgs(fs, args, stdout, 0, 1); help || err != nil {
		return err
	}
	dir := config.DefaultCertDir
	if fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	report, err := inspect.Dir(dir, certs.Names{}, time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if !report.Bundle.OK {
		return exitCode(exitFailure) // the report said why
	}
	return nil
}

func cmdCertsInit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("certs init", "DIR --host HOST --client NAME [--client NAME...]", "Make a PKI for tests and small deployments: like the tutorial's openssl steps, but with a SAN for the\nbroker host and key usages modern clients check. The CA key goes to a separate folder: move it off the device.", stderr)
	host := fs.String("host", "", "broker `HOST` name or IP address, as the devices will dial it")
	var clients listFlag
	fs.Var(&clients, "client", "device `NAME` (CN, MQTT user name and client id); repeat for several")
	caKeyDir := fs.String("ca-key-dir", "", "where ca.key goes: a folder `CADIR` (default: DIR-ca-private, beside DIR)")
	force := fs.Bool("force", false, "overwrite existing files")
	rsa := fs.Bool("rsa", false, "make RSA 2048 keys instead of ECDSA P-256")
	if help, err := parseArgs(fs, args, stdout, 1, 1); help || err != nil {
		return err
	}
	switch {
	case *host == "":
		return requireFlag(fs, "host")
	case len(clients) == 0:
		return requireFlag(fs, "client")
	}
	opts := pki.InitOpts{Dir: fs.Arg(0), CAKeyDir: *caKeyDir, Host: *host, Clients: clients, Force: *force}
	if *rsa {
		opts.KeyType = pki.KeyRSA2048
	}
	res, err := pki.InitPKI(opts)
	if err != nil {
		return err
	}
	for _, f := range res.Written {
		fmt.Fprintln(stdout, "wrote", f)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, res.Reminder)
	return nil
}
