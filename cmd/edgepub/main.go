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
	"strings"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		cancel(signalError{sig.(syscall.Signal)})
		// A second Ctrl-C ends a shutdown that hangs.
		<-sigs
		os.Exit(exitInterrupted)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(sigs)
	os.Exit(exitStatus(ctx, err, os.Stderr))
}

// Exit statuses, as `edgepub help` documents them.
const (
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report Ctrl-C
)

// signalError is the cause of the context's end when a signal stopped us.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return "stopped by " + e.sig.String() }

// exitStatus prints err (unless already reported) and picks the exit status:
// 130 after Ctrl-C whatever the command returned, since its error is then
// only a consequence; SIGTERM, systemd's stop, is a clean end.
func exitStatus(ctx context.Context, err error, stderr io.Writer) int {
	var sig signalError
	if errors.As(context.Cause(ctx), &sig) {
		if sig.sig == syscall.SIGINT {
			return exitInterrupted
		}
		if err == nil || errors.Is(err, context.Canceled) {
			return 0
		}
	}
	if err == nil {
		return 0
	}
	var exit exitCode
	if errors.As(err, &exit) {
		return int(exit)
	}
	fmt.Fprintln(stderr, "edgepub:", err)
	return exitFailure
}

// exitCode ends the program with a code and no further message, for
// commands that already reported (check, usage errors).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// command is one entry of the command table: a leaf with run, or a group
// with subcommands. A leaf parses its own flags (newFlagSet, parseFlags);
// groups are dispatched, and their usage printed, by dispatch alone.
type command struct {
	name    string
	args    string // synopsis with placeholders, e.g. "[DIR] [--json]"
	summary string // one line in the parent's usage
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	subs    []command
	// hidden commands run but are not listed (demo in packaged builds).
	hidden bool
}

// commands is the command tree. Registering a new leaf is one line here:
// {name: "fleet", args: "[flags]", summary: "...", run: cmdFleet}.
func commands() command {
	return command{name: "edgepub", subs: []command{
		{name: "run", args: "[flags]", summary: "read the sensors and publish their readings (the daemon)", run: cmdRun},
		{name: "demo", args: "[flags]", summary: "try edgepub locally: throwaway PKI, embedded broker, simulated sensors", run: cmdDemo, hidden: !demoBuilt},
		{name: "check", args: "[flags]", summary: "check config, certificates, sensors and the broker step by step, with fixes", run: cmdCheck},
		{name: "setup", args: "--cert-dir DIR [flags]", summary: "point the installed service at a certificate folder (root)", run: cmdSetup},
		{name: "config", summary: "print the sample config, or validate a config file", subs: []command{
			{name: "check", args: "[--config FILE]", summary: "validate a config file without touching network, certificates or sensors", run: cmdConfigCheck},
			{name: "example", args: "", summary: "print the commented sample config (the one the package installs)", run: cmdConfigExample},
		}},
		{name: "certs", summary: "inspect a certificate folder, or make a PKI for tests", subs: []command{
			{name: "inspect", args: "[DIR] [--json]", summary: "show each file of a certificate folder and whether the folder is usable", run: cmdCertsInspect},
			{name: "init", args: "DIR --host HOST --client NAME [--client NAME...]", summary: "make a CA, a broker certificate and client certificates, named as in the tutorial", run: cmdCertsInit},
		}},
		{name: "fleet", args: "[flags]", summary: "show every device on the broker; serve Prometheus metrics with --listen", run: cmdFleet},
		{name: "sensors", summary: "find sensors on the buses, or read configured ones once", subs: []command{
			{name: "scan", args: "[--bus DEV] [--w1 DIR] [--iio DIR] [--hwmon DIR]", summary: "probe I2C, 1-Wire, IIO and hwmon devices, print a config snippet", run: cmdSensorsScan},
			{name: "read", args: "[NAME...] [--all] [--config FILE] [--json]", summary: "read configured sensors once, without a broker", run: cmdSensorsRead},
			{name: "types", args: "", summary: "list the sensor types edgepub knows: name, chip, bus, fields", run: cmdSensorsTypes},
		}},
		{name: "version", args: "", summary: "print version, commit, Go version and architecture", run: cmdVersion},
		{name: "help", args: "[COMMAND...]", summary: "show this help, or a command's", run: nil},
	}}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := commands()
	if len(args) > 0 {
		switch args[0] {
		case "--version", "-V":
			return cmdVersion(ctx, args[1:], stdout, stderr)
		case "help":
			return help(root, args[1:], stdout, stderr)
		}
	}
	return dispatch(ctx, root, nil, args, stdout, stderr)
}

// dispatch walks the tree along args. It is the one place that handles a
// group's -h, a missing or an unknown subcommand.
func dispatch(ctx context.Context, c command, path, args []string, stdout, stderr io.Writer) error {
	if c.run != nil {
		return c.run(ctx, args, stdout, stderr)
	}
	switch {
	case len(args) == 0:
		fmt.Fprintf(stderr, "%s: missing command\n\n", strings.Join(append([]string{"edgepub"}, path...), " "))
		c.usage(path, stderr)
		return exitCode(exitUsage)
	case isHelp(args[0]):
		c.usage(path, stdout)
		return nil
	}
	if sub, ok := c.sub(args[0]); ok {
		return dispatch(ctx, sub, append(path, sub.name), args[1:], stdout, stderr)
	}
	what := "command"
	if strings.HasPrefix(args[0], "-") {
		what = "flag"
	}
	fmt.Fprintf(stderr, "%s: unknown %s %q\n\n", strings.Join(append([]string{"edgepub"}, path...), " "), what, args[0])
	c.usage(path, stderr)
	return exitCode(exitUsage)
}

func (c command) sub(name string) (command, bool) {
	for _, s := range c.subs {
		if s.name == name && (s.run != nil || s.subs != nil) {
			return s, true
		}
	}
	return command{}, false
}

// help runs `edgepub help [COMMAND...]`: the same text as COMMAND -h.
func help(root command, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" {
		root.usage(nil, stdout)
		return nil
	}
	return dispatch(context.Background(), root, nil, append(args, "-h"), stdout, stderr)
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// usage lists a group's visible subcommands; the root adds the exit
// statuses.
func (c command) usage(path []string, w io.Writer) {
	prefix := strings.Join(append([]string{"edgepub"}, path...), " ")
	if len(path) == 0 {
		fmt.Fprint(w, "edgepub publishes sensor readings over MQTT with mutual TLS.\n\n")
	} else {
		fmt.Fprintf(w, "%s: %s\n\n", prefix, c.summary)
	}
	fmt.Fprint(w, "Usage:\n")
	var lines [][2]string
	width := 0
	for _, s := range c.subs {
		if s.hidden {
			continue
		}
		synopsis := s.args
		if s.subs != nil {
			synopsis = "COMMAND ..."
		}
		left := strings.TrimSpace(prefix + " " + s.name + " " + synopsis)
		lines = append(lines, [2]string{left, s.summary})
		width = max(width, len(left))
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
	}
	if len(path) == 0 {
		fmt.Fprint(w, "\nRun 'edgepub help COMMAND' or 'edgepub COMMAND -h' for its flags.\n"+
			"'edgepub --version' (-V) is 'edgepub version'.\n\n"+
			"Exit status: 0 ok, 1 failure, 2 wrong usage, 130 interrupted (Ctrl-C).\n")
	} else {
		fmt.Fprintf(w, "\nRun '%s COMMAND -h' for its flags.\n", prefix)
	}
}
