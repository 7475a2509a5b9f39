package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/edgepub/edgepub/config"
	"github.com/edgepub/edgepub/internal/doctor"
	"github.com/edgepub/edgepub/sensors"
	"github.com/edgepub/edgepub/sensors/catalog"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "[flags]", "Check the set-up step by step: config, sensors, certificates, name resolution, TCP, TLS, MQTT\n"+
		"connect and a test message to <device>/check (outside <device>/sensors/). Each step ends in PASS,\n"+
		"WARN or FAIL, as severe as run would log the same finding, and says how to fix it.\n"+
		"Exit status 0 when nothing failed (with --strict: nothing warned either), else 1.", stderr)
	var cf configFlags
	cf.register(fs)
	timeout := fs.Duration("timeout", 10*time.Second, "`TIME` each network step may take")
	noSensors := fs.Bool("no-sensors", false, "skip opening and reading the sensors")
	strict := fs.Bool("strict", false, "exit 1 on a WARN too")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	p := newPrinter(stdout)
	var steps []doctor.Step
	report := func(s doctor.Step) {
		steps = append(steps, s)
		if !*asJSON {
			p.step(s)
		}
	}
	cfg, err := cf.load()
	if err != nil {
		report(doctor.Step{Name: "config", Status: doctor.Fail, Detail: err.Error(), Fix: configFix(err, cf.path)})
	} else {
		report(configStep(cfg, cf))
		opts := doctor.Opts{Timeout: *timeout, OnStep: report}
		if !*noSensors {
			buses := catalog.NewHostBuses()
			defer buses.Close()
			opts.OpenSensor = func(ctx context.Context, spec config.Sensor) (sensors.Sensor, error) {
				return catalog.Open(ctx, spec, buses)
			}
		}
		doctor.Check(ctx, cfg, opts)
	}
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: what was cut short is no finding
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // <name>.crt stays readable
		if err := enc.Encode(steps); err != nil {
			return err
		}
	}
	switch worst := doctor.Worst(steps); {
	case worst == doctor.Fail, worst == doctor.Warn && *strict:
		return exitCode(exitFailure)
	}
	return nil
}

func configStep(cfg config.Config, cf configFlags) doctor.Step {
	file := cf.path
	if file == "" {
		file = config.DefaultPath
		if _, err := os.Stat(file); err != nil {
			file = "no config file (defaults)"
		}
	}
	s := doctor.Step{Name: "config", Status: doctor.Pass, OK: true,
		Detail: fmt.Sprintf("%s: broker %s, certificates in %s", file, cfg.Broker.URLs[0], cfg.Certs.Dir)}
	if len(cf.brokers) == 0 && len(cfg.Broker.URLs) == 1 && cfg.Broker.URLs[0] == config.DefaultBroker {
		s.Note = "broker not configured: using the tutorial's default " + config.DefaultBroker + "; set broker.urls in " + config.DefaultPath + " or give --broker URL"
	}
	if cf.stateDirNote != "" {
		s.Note = strings.TrimPrefix(s.Note+"; "+cf.stateDirNote, "; ")
	}
	return s
}

// configFix says what to do about a config that did not load: each kind
// of mistake has its own remedy.
func configFix(err error, path string) string {
	var fe *flagError
	switch {
	case errors.As(err, &fe):
		return fe.fix
	case errors.Is(err, fs.ErrNotExist):
		return "the config file " + path + " does not exist: write one with `edgepub config example > " + path + "`, or leave --config out to use " + config.DefaultPath + " or the defaults"
	case errors.Is(err, fs.ErrPermission):
		return "the config file cannot be read by this user: run edgepub check with sudo"
	case errors.Is(err, config.ErrSyntax):
		return "fix the YAML syntax at the line named: indent with spaces only, close every [ { and quote; `edgepub config example` shows the layout"
	}
	if path == "" {
		path = config.DefaultPath
	}
	return "edit " + path + " at the lines named; `edgepub config example` shows every key with its default"
}

// printer aligns the steps and colours them only on a terminal.
type printer struct {
	w     io.Writer
	color bool
}

func newPrinter(w io.Writer) printer {
	f, ok := w.(*os.File)
	color := false
	if ok && os.Getenv("NO_COLOR") == "" {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			color = true
		}
	}
	return printer{w: w, color: color}
}

func (p printer) paint(code, s string) string {
	if !p.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p printer) step(s doctor.Step) {
	mark := map[doctor.Status]string{doctor.Pass: p.paint("32", "PASS"), doctor.Warn: p.paint("33;1", "WARN"), doctor.Fail: p.paint("31;1", "FAIL")}[s.Status]
	fmt.Fprintf(p.w, "%s  %-16s %s\n", mark, s.Name, s.Detail)
	if s.Fix != "" {
		fmt.Fprintf(p.w, "      %-16s %s %s\n", "", p.paint("33", "fix:"), s.Fix)
	}
	if s.Note != "" {
		fmt.Fprintf(p.w, "      %-16s %s %s\n", "", p.paint("36", "note:"), s.Note)
	}
}
