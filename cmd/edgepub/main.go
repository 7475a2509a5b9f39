// Command edgepub reads sensors and publishes their readings over MQTT with
// mutual TLS. See `edgepub help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var exit exitCode
		if !errors.As(err, &exit) {
			fmt.Fprintln(os.Stderr, "edgepub:", err)
			exit = 1
		}
		stop()
		os.Exit(int(exit))
	}
}

// exitCode ends the program with a code and no further message, for
// commands that already reported (check, help with a wrong command).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// command is one subcommand.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "[flags]", "read the sensors and publish their readings (the daemon)", cmdRun},
		{"demo", "[flags]", "try edgepub locally: throwaway PKI, embedded broker, simulated sensors", cmdDemo},
		{"check", "[flags]", "check config, certificates and the broker step by step, with fixes", cmdCheck},
		{"certs", "inspect|init ...", "inspect a certificate directory, or make a PKI for tests", cmdCerts},
		{"sensors", "scan|read ...", "find sensors on the I2C and 1-Wire buses, or read one once", cmdSensors},
		{"fleet", "[flags]", "show every device on the broker; serve Prometheus metrics with --listen", cmdFleet},
		{"version", "", "print version, commit, Go version and architecture", cmdVersion},
		{"help", "[command]", "show this help or a command's flags", nil},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return exitCode(2)
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			return run(ctx, []string{rest[0], "-h"}, stdout, stderr)
		}
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c.run(ctx, rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "edgepub: unknown command %q\n\n", name)
	usage(stderr)
	return exitCode(2)
}

func usage(w io.Writer) {
	fmt.Fprint(w, "edgepub publishes sensor readings over MQTT with mutual TLS.\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  edgepub %-8s %-18s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprint(w, "\nRun 'edgepub help COMMAND' or 'edgepub COMMAND -h' for its flags.\n")
}
