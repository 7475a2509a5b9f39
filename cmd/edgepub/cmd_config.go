package main

import (
	"context"
	"fmt"
	"io"

	"github.com/edgepub/edgepub/config"
)

func cmdConfigCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config check", "[--config FILE]", "Validate a config file: syntax, keys, values and sensor types. Touches no network,\ncertificate or sensor; `edgepub check` does that.", stderr)
	path := fs.String("config", "", "config `FILE` (default "+config.DefaultPath+")")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *path == "" {
		*path = config.DefaultPath
	}
	cfg, err := configParser().Load(*path, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OK (broker %s, certificates in %s, sensors: %d)\n", *path, cfg.Broker.URLs[0], cfg.Certs.Dir, len(cfg.Sensors))
	return nil
}

func cmdConfigExample(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config example", "", "Print the commented sample config, the one the package installs as "+config.DefaultPath+".\nSave it with: edgepub config example > config.yaml", stderr)
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	_, err := io.WriteString(stdout, config.Example)
	return err
}
