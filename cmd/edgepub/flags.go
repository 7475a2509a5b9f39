package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// newFlagSet returns a flag set whose -h prints the command's usage to
// stdout and whose errors go to stderr. args is the synopsis after the
// command's name, with placeholders: "[DIR] [--json]".
func newFlagSet(name, args, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("edgepub "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n", strings.TrimSpace("edgepub "+name+" "+args), summary)
		printFlags(fs.Output(), fs)
	}
	return fs
}

// testOnly starts the usage of flags that help leaves out.
const testOnly = "test only: "

// printFlags lists the flags as people type them (--cert-dir DIR), in the
// order of their names, without test-only ones; nothing when there are none.
// A placeholder is the `quoted` word of the usage, as in flag.UnquoteUsage.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	type row struct{ left, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, testOnly) {
			return
		}
		placeholder, usage := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if !isBool(f) {
			if placeholder == "value" {
				placeholder = "VALUE"
			}
			left += " " + placeholder
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "[]" {
			usage += " (default " + f.DefValue + ")"
		}
		rows = append(rows, row{left, usage})
		width = max(width, len(left))
	})
	if len(rows) == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r.left, r.usage)
	}
}

// parseFlags parses and turns -h into a clean exit. Positional arguments
// are an error: use parseArgs for a command that takes some.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (help bool, err error) {
	if help, err := parse(fs, args, stdout); help || err != nil {
		return help, err
	}
	if fs.NArg() > 0 {
		return false, usageError(fs, "unexpected argument %q (this command takes flags only%s)", fs.Arg(0), flagHint(fs, fs.Arg(0)))
	}
	return false, nil
}

// parseArgs parses flags given anywhere among min to max
// positional arguments ("certs init DIR --host H" parses as people type
// it), and turns -h into a clean exit.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer, min, max int) (help bool, err error) {
	if help, err := parse(fs, interspersed(fs, args), stdout); help || err != nil {
		return help, err
	}
	switch n := fs.NArg(); {
	case n < min:
		return false, usageError(fs, "missing argument")
	case n > max:
		return false, usageError(fs, "unexpected argument %q", fs.Arg(max))
	}
	return false, nil
}

func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (help bool, err error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelp(a) {
			fs.SetOutput(stdout)
			fs.Usage()
			return true, nil
		}
	}
	// The flag package prints the error and the whole usage; one line and
	// a pointer to -h is easier to read.
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err = fs.Parse(args)
	fs.SetOutput(out)
	if err != nil {
		return false, usageError(fs, "%s", flagErrorText(fs, err))
	}
	return false, nil
}

var (
	undefinedFlagRE = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	badValueRE      = regexp.MustCompile(`^invalid (?:boolean )?value (".*") for flag -+([^:]*): (.*)$`)
)

// flagErrorText rewords the flag package's errors with flags as people
// type them (--name) and what a value should look like.
func flagErrorText(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if m := undefinedFlagRE.FindStringSubmatch(msg); m != nil {
		return "unknown flag --" + m[1]
	}
	if m := badValueRE.FindStringSubmatch(msg); m != nil {
		want := m[3]
		if g, ok := fs.Lookup(m[2]).Value.(flag.Getter); ok {
			switch g.Get().(type) {
			case time.Duration:
				want = "want a duration such as 500ms, 10s or 2m"
			case int, int64, uint, uint64:
				want = "want a whole number"
			case bool:
				want = "want true or false"
			}
		}
		return fmt.Sprintf("--%s %s: %s", m[2], m[1], want)
	}
	return strings.NewReplacer("flag -", "flag --").Replace(msg)
}

// usageError prints one line about a command-line mistake and says where
// the usage is; the caller exits with status 2.
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "%s: %s\nRun '%s -h' for usage.\n", fs.Name(), fmt.Sprintf(format, args...), fs.Name())
	return exitCode(exitUsage)
}

// requireFlag names a required flag that was left out.
func requireFlag(fs *flag.FlagSet, name string) error {
	f := fs.Lookup(name)
	placeholder, usage := flag.UnquoteUsage(f)
	return usageError(fs, "--%s %s is required: %s", name, placeholder, usage)
}

// flagHint guesses the flag meant by a stray argument such as a config
// file given without --config.
func flagHint(fs *flag.FlagSet, arg string) string {
	if fs.Lookup("config") != nil && (strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml")) {
		return "; did you mean --config " + arg + "?"
	}
	return ""
}

// listFlag collects a flag given several times or as a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// interspersed moves positional arguments behind the flags, so that
// "certs init DIR --host H" parses as people type it; the flag package
// stops at the first positional argument.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBool(f) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	if len(positional) > 0 {
		flags = append(flags, "--")
	}
	return append(flags, positional...)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
