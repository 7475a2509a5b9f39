package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/config"
)

// Drop-ins written by setup; postrm's purge removes them.
const (
	serviceDropIn = "etc/systemd/system/edgepub.service.d/setup.conf"
	pathDropIn    = "etc/systemd/system/edgepub-certs.path.d/setup.conf"
)

func cmdSetup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("setup", "--cert-dir DIR [--config FILE] [--root DIR]", "Point the installed service at a certificate folder other than "+config.DefaultCertDir+":\n"+
		"writes the systemd drop-ins (LoadCredential= of edgepub.service, PathChanged= of\n"+
		"edgepub-certs.path) and certs.dir in the config, reloads systemd and restarts edgepub\n"+
		"if it runs. Run it as root after installing the package; run it again to change the folder.", stderr)
	certDir := fs.String("cert-dir", "", "folder `DIR` with ca.crt, <name>.crt and <name>.key, as the tutorial makes them")
	configPath := fs.String("config", config.DefaultPath, "config `FILE` to set certs.dir in")
	root := fs.String("root", "/", "write below `DIR` instead of / (an image being built); systemd is left alone then")
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	if *certDir == "" {
		return requireFlag(fs, "cert-dir")
	}
	dir, err := filepath.Abs(*certDir)
	if err != nil {
		return err
	}
	if strings.ContainsAny(dir, " \t\n\\") {
		return fmt.Errorf("setup: %s: systemd's LoadCredential= cannot name a folder with spaces or backslashes; move the certificates to a folder without them", dir)
	}
	// Better a refusal now than a service that fails at every start.
	if _, err := certs.Load(filepath.Join(*root, dir), certs.Names{}, time.Now()); err != nil {
		var ve *certs.ValidityError
		if !errors.As(err, &ve) {
			return fmt.Errorf("setup: %w", err)
		}
		fmt.Fprintln(stderr, "edgepub setup: warning:", err)
	}
	// % starts a systemd specifier.
	unitPath := strings.ReplaceAll(dir, "%", "%%")
	files := []struct{ path, content string }{
		{serviceDropIn, "# Written by `edgepub setup --cert-dir " + dir + "`; run it again to change the folder.\n" +
			"[Service]\nLoadCredential=\nLoadCredential=certs:" + unitPath + "\n"},
		{pathDropIn, "# Written by `edgepub setup --cert-dir " + dir + "`: restart edgepub when the certificates change.\n" +
			"[Path]\nPathChanged=\nPathChanged=" + unitPath + "\n"},
	}
	for _, f := range files {
		path := filepath.Join(*root, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("setup: %w (run it as root)", err)
		}
		if err := os.WriteFile(path, []byte(f.content), 0o644); err != nil {
			return fmt.Errorf("setup: %w (run it as root)", err)
		}
		fmt.Fprintln(stdout, "wrote", path)
	}
	cfgFile := filepath.Join(*root, *configPath)
	if err := setCertDir(cfgFile, dir); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintln(stdout, "set certs.dir in", cfgFile)
	if *root != "/" {
		return nil
	}
	if _, err := exec.LookPath("systemctl"); err != nil {
		fmt.Fprintln(stdout, "no systemctl here: start edgepub with `edgepub run --config "+*configPath+"`")
		return nil
	}
	for _, args := range [][]string{{"daemon-reload"}, {"try-restart", "edgepub.service"}} {
		out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("setup: systemctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	fmt.Fprintln(stdout, "systemd reloaded, edgepub restarted if it was running; `systemctl status edgepub` shows its state")
	return nil
}

// setCertDir sets certs.dir in the config file, changing only that line;
// a missing file is started from the packaged sample.
func setCertDir(path, dir string) error {
	data, err := os.ReadFile(path)
	mode := os.FileMode(0o644)
	switch {
	case errors.Is(err, os.ErrNotExist):
		data = []byte(config.Example)
	case err != nil:
		return err
	default:
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	out, err := config.SetScalar(data, "certs.dir", dir)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := configParser().Parse(strings.NewReader(string(out))); err != nil {
		return fmt.Errorf("%s has a mistake; correct it first: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".edgepub-setup"
	if err := os.WriteFile(tmp, out, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
