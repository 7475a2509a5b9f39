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

func cmdCerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"inspect": cmdCertsInspect,
		"init":    cmdCertsInit,
	}
	if len(args) > 0 {
		if f, ok := sub[args[0]]; ok {
			return f(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprint(stdout, "Usage: edgepub certs inspect [DIR] [--json]\n       edgepub certs init DIR --host HOST --client NAME [--client NAME...]\n\n"+
		"inspect shows each file of a certificate folder: subject, issuer, validity, SANs, key, chain and file mode.\n"+
		"init makes a CA, a server certificate for the broker host and client certificates, named as the seed tutorial names them.\n")
	if len(args) > 0 && args[0] != "-h" && args[0] != "-help" && args[0] != "--help" {
		return exitCode(2)
	}
	return nil
}

func cmdCertsInspect(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("certs inspect", "[DIR] [--json]", "Show what is in a certificate folder (default "+config.DefaultCertDir+") and whether it fits together.", stderr)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if help, err := parseFlags(fs, interspersed(fs, args), stdout); help || err != nil {
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
		return enc.Encode(report)
	}
	return report.WriteText(stdout)
}

func cmdCertsInit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("certs init", "DIR --host HOST --client NAME [--client NAME...]", "Make a PKI for tests and small deployments: like the seed's openssl steps, but with a SAN for the\nbroker host and key usages modern clients check. The CA key goes to a separate folder: move it off the device.", stderr)
	host := fs.String("host", "", "the broker's IP address or DNS name, as the devices will dial it")
	var clients listFlag
	fs.Var(&clients, "client", "device name (CN, MQTT user name and client id); repeat for several")
	caKeyDir := fs.String("ca-key-dir", "", "where ca.key goes (default: DIR-ca-private, beside DIR)")
	force := fs.Bool("force", false, "overwrite existing files")
	rsa := fs.Bool("rsa", false, "make RSA 2048 keys instead of ECDSA P-256")
	if help, err := parseFlags(fs, interspersed(fs, args), stdout); help || err != nil {
		return err
	}
	if fs.NArg() != 1 || *host == "" || len(clients) == 0 {
		fs.Usage()
		return exitCode(2)
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
