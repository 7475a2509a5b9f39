package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/edgepub/edgepub/certs/internal/certfile"
	"github.com/edgepub/edgepub/config"
)

// DefaultCAFile is the CA certificate's file name, as in the tutorial.
const DefaultCAFile = "ca.crt"

// Names selects the files in the cert directory. Each is a file name relative
// to the directory or an absolute path; empty fields are discovered.
type Names struct {
	// CA is the CA certificate (bundle); default ca.crt.
	CA string
	// Cert is the client certificate, optionally followed by intermediates.
	Cert string
	// Key is the client's private key.
	Key string
	// Prefix goes before every relative name, and discovery only looks at
	// files that carry it: systemd's LoadCredential=certs:DIR hands the
	// service the files of DIR as certs_ca.crt, certs_<name>.crt, ….
	Prefix string
}

// ConfigNames selects the files as the config's certs section says.
func ConfigNames(c config.Certs) Names {
	return Names{CA: c.CA, Cert: c.Cert, Key: c.Key, Prefix: c.Prefix}
}

// Discover resolves names to absolute paths. CA defaults to ca.crt. When only
// one of Cert and Key is given the other is the same name with .key or .crt.
// When neither is given, dir must hold exactly one <name>.crt besides the CA
// with a <name>.key next to it; none or several are an error that lists what
// was found.
func Discover(dir string, names Names) (Names, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Names{}, fmt.Errorf("cannot resolve certificate directory: %w", err)
	}
	resolve := func(name string) string {
		if filepath.IsAbs(name) {
			return filepath.Clean(name)
		}
		return filepath.Join(dir, names.Prefix+name)
	}
	out := Names{CA: names.CA, Prefix: names.Prefix}
	if out.CA == "" {
		out.CA = DefaultCAFile
	}
	out.CA = resolve(out.CA)
	switch {
	case names.Cert != "" && names.Key != "":
		out.Cert, out.Key = resolve(names.Cert), resolve(names.Key)
		return out, nil
	case names.Cert != "":
		out.Cert = resolve(names.Cert)
		out.Key = strings.TrimSuffix(out.Cert, filepath.Ext(out.Cert)) + ".key"
		return out, nil
	case names.Key != "":
		out.Key = resolve(names.Key)
		out.Cert = strings.TrimSuffix(out.Key, filepath.Ext(out.Key)) + ".crt"
		return out, nil
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Names{}, certfile.ProblemWith(fmt.Sprintf("certificate directory %s does not exist: create it and copy ca.crt, <name>.crt and <name>.key there, or set certs.dir in the config", dir), err)
		}
		return Names{}, certfile.ReadError(dir, "certificate directory", "certs.dir", err)
	}
	present := map[string]bool{}
	var found []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !strings.HasPrefix(e.Name(), names.Prefix) {
			continue // editor backups, k8s ..data links, other credentials
		}
		present[e.Name()] = true
		found = append(found, e.Name())
	}
	var pairs, serverPairs []string
	for _, name := range found {
		if filepath.Ext(name) != ".crt" || filepath.Join(dir, name) == out.CA {
			continue
		}
		key := strings.TrimSuffix(name, ".crt") + ".key"
		if !present[key] || !isRegular(filepath.Join(dir, name)) {
			continue
		}
		if why := serverPair(filepath.Join(dir, name), names.Prefix); why != "" {
			serverPairs = append(serverPairs, name+" ("+why+")")
			continue
		}
		pairs = append(pairs, name)
	}
	sort.Strings(pairs)
	switch len(pairs) {
	case 1:
		out.Cert = filepath.Join(dir, pairs[0])
		out.Key = strings.TrimSuffix(out.Cert, ".crt") + ".key"
		return out, nil
	case 0:
		if len(serverPairs) > 0 {
			return Names{}, certfile.Problem(ErrNoClientCert, "no client certificate in %s, only a server pair: %s; that pair is the broker's, not a device's: copy the device's own <name>.crt and <name>.key there, or set certs.cert and certs.key in the config", dir, strings.Join(serverPairs, ", "))
		}
		listing := "nothing"
		if len(found) > 0 {
			listing = strings.Join(found, ", ")
		}
		return Names{}, certfile.Problem(ErrNoClientCert, "no client certificate in %s (found %s): copy <name>.crt and <name>.key there, or set certs.cert and certs.key in the config", dir, listing)
	}
	for i, p := range pairs {
		pairs[i] = p + "+" + strings.TrimSuffix(p, ".crt") + ".key"
	}
	return Names{}, certfile.Problem(ErrSeveralClientCerts, "several client certificates in %s (%s): set certs.cert and certs.key in the config to choose one", dir, strings.Join(pairs, ", "))
}

// serverPair says why the certificate at path is a broker's rather than a
// device's, or "". The tutorial's server.crt is a v1 certificate without
// extended key usage, so it is known by its name; other certificates by an
// extended key usage that excludes clientAuth. A file that does not parse
// stays a candidate, so that Load names what is wrong with it.
func serverPair(path, prefix string) string {
	if strings.TrimSuffix(filepath.Base(path), ".crt") == prefix+"server" {
		return "the tutorial's broker certificate"
	}
	data, err := certfile.Read(path, "client certificate", "")
	if err != nil {
		return ""
	}
	certs, err := certfile.ParseCertificates(path, "client certificate", data)
	if err != nil || allowsClientAuth(certs[0]) {
		return ""
	}
	return "extended key usage " + certfile.ExtKeyUsageNames(certs[0].ExtKeyUsage) + ", no clientAuth"
}

// allowsClientAuth reports whether c's extended key usage, if any, permits
// TLS client authentication.
func allowsClientAuth(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func isRegular(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
