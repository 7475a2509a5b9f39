package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/edgepub/edgepub/internal/doctor"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "[flags]", "Check the set-up step by step: config, certificates, name resolution, TCP, TLS, MQTT connect\nand a test publish. Each failed step says how to fix it. Exit status 0 only if all pass.", stderr)
	var cf configFlags
	cf.register(fs)
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each network step")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	p := newPrinter(stdout)
	cfg, err := cf.load()
	if err != nil {
		p.step(doctor.Step{Name: "config", Detail: err.Error(), Fix: "correct the key on the line named above"})
		return exitCode(1)
	}
	steps := append([]doctor.Step{{Name: "config", OK: true, Detail: "broker " + cfg.Broker.URLs[0] + ", certificates in " + cfg.Certs.Dir,
		Note: strings.Trim(cf.brokerNote+"; "+cf.stateDirNote, "; ")}},
		doctor.Check(ctx, cfg, doctor.Opts{Timeout: *timeout})...)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(steps)
	} else {
		for _, s := range steps {
			p.step(s)
		}
	}
	if doctor.Failed(steps) {
		return exitCode(1)
	}
	return nil
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
	mark := p.paint("32", "PASS")
	if !s.OK {
		mark = p.paint("31;1", "FAIL")
	}
	fmt.Fprintf(p.w, "%s  %-16s %s\n", mark, s.Name, s.Detail)
	if s.Fix != "" {
		fmt.Fprintf(p.w, "      %-16s %s %s\n", "", p.paint("33", "fix:"), s.Fix)
	}
	if s.Note != "" {
		fmt.Fprintf(p.w, "      %-16s %s %s\n", "", p.paint("36", "note:"), s.Note)
	}
}
