package config

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// resolvePaths expands a leading ~ (the user's home) or ~name (that user's)
// in the file paths of the config, and makes relative ones relative to dir,
// the config file's folder; an empty dir leaves them relative to the
// current directory. File names in certs.dir (certs.ca, cert, key) stay
// relative to it.
func (c *Config) resolvePaths(dir string) error {
	paths := []struct {
		key string
		p   *string
		rel bool
	}{
		{"certs.dir", &c.Certs.Dir, true},
		{"certs.ca", &c.Certs.CA, false},
		{"certs.cert", &c.Certs.Cert, false},
		{"certs.key", &c.Certs.Key, false},
		{"state_dir", &c.StateDir, true},
	}
	for i := range c.Sensors {
		paths = append(paths, struct {
			key string
			p   *string
			rel bool
		}{fmt.Sprintf("sensors[%d].path", i), &c.Sensors[i].Path, true})
	}
	for _, p := range paths {
		v, err := expandHome(*p.p)
		if err != nil {
			return &FieldError{Key: p.key, Err: err}
		}
		if p.rel && dir != "" && v != "" && !filepath.IsAbs(v) {
			v = filepath.Join(dir, v)
		}
		*p.p = v
	}
	return nil
}

// expandHome replaces a leading ~ or ~name as a shell does.
func expandHome(path string) (string, error) {
	if !strings.HasPrefix(path, "~") {
		return path, nil
	}
	name, rest, _ := strings.Cut(path[1:], "/")
	var home string
	if name == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("%s: cannot expand ~: %w (write the full path)", path, err)
		}
		home = h
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return "", fmt.Errorf("%s: cannot expand ~%s: %w (write the full path)", path, name, err)
		}
		home = u.HomeDir
	}
	return filepath.Join(home, rest), nil
}
