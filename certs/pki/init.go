package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// InitOpts configures InitPKI.
type InitOpts struct {
	// Dir receives ca.crt, server.crt, server.key and <client>.crt/.key,
	// named as in the tutorial so its mosquitto.conf works unchanged.
	Dir string
	// CAKeyDir receives ca.key. It must not be Dir or inside it; default is
	// the sibling folder "<Dir>-ca-private". Move it off the machine.
	CAKeyDir string
	// Host is the broker's IP address or DNS name for server.crt.
	Host string
	// Clients are the device names, one client certificate each (CN, MQTT
	// user name and client id).
	Clients []string
	// Force overwrites existing files (and makes a new CA).
	Force bool
	// Now is the issue time; zero means time.Now().
	Now time.Time
	// KeyType of all keys; empty means KeyECDSAP256.
	KeyType KeyType
	// CAName is the CA's common name; empty means DefaultCAName.
	CAName string
}

// InitResult says what InitPKI wrote.
type InitResult struct {
	// Dir is the certificate folder, absolute.
	Dir string `json:"dir"`
	// CAKeyFile is where ca.key was written or found, absolute.
	CAKeyFile string `json:"ca_key_file"`
	// Written lists every file written, absolute.
	Written []string `json:"written"`
	// ReusedCA is true when an existing ca.crt and ca.key were used.
	ReusedCA bool `json:"reused_ca"`
	// Reminder tells the person what to copy where and to move the CA key
	// off the machine.
	Reminder string `json:"reminder"`
}

// validClientName keeps a device name usable as file name, MQTT user name
// and as the first level of its topics (ACL `pattern readwrite %u/#`).
func validClientName(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '.' || name[0] == '-' {
		return false
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

// InitPKI makes a CA, the broker's server certificate and one client
// certificate per name, as the tutorial does with openssl but with
// subjectAltNames and key usages that Go and mosquitto both verify strictly.
//
// Without Force it never overwrites a file: if a ca.crt and the CA key
// already exist they are reused (to add clients), and any other file that
// exists is an error naming it, before anything is written.
func InitPKI(opts InitOpts) (*InitResult, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Dir == "" {
		return nil, errors.New("no certificate directory given")
	}
	if opts.Host == "" {
		return nil, errors.New("no broker host given: pass the broker's IP address or DNS name (--host)")
	}
	if strings.ContainsAny(opts.Host, " /\\\"'$`") {
		return nil, fmt.Errorf("broker host %q is not an IP address or DNS name", opts.Host)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", opts.Dir, err)
	}
	caKeyDir := opts.CAKeyDir
	if caKeyDir == "" {
		caKeyDir = dir + "-ca-private"
	}
	if caKeyDir, err = filepath.Abs(caKeyDir); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", opts.CAKeyDir, err)
	}
	if within(realPath(caKeyDir), realPath(dir)) {
		return nil, fmt.Errorf("the CA key folder %s is inside the certificate folder %s: choose a folder outside it, so the CA key is not copied to devices with the certificates", caKeyDir, dir)
	}
	seen := map[string]bool{}
	for _, name := range opts.Clients {
		if !validClientName(name) {
			return nil, fmt.Errorf("client name %q cannot be used: use letters, digits, '.', '_' and '-' only (it becomes the file name, MQTT user name and topic prefix)", name)
		}
		if low := strings.ToLower(name); low == "ca" || low == "server" {
			return nil, fmt.Errorf("client name %q would overwrite the %s files: choose another name", name, low)
		}
		if seen[name] {
			return nil, fmt.Errorf("client name %q is given twice", name)
		}
		seen[name] = true
	}

	res := &InitResult{Dir: dir, CAKeyFile: filepath.Join(caKeyDir, certfile.CAKeyName)}
	caCertFile := filepath.Join(dir, certs.DefaultCAFile)
	var leafFiles []string
	leafFiles = append(leafFiles, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	for _, name := range opts.Clients {
		leafFiles = append(leafFiles, filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	}

	var ca *CA
	if !opts.Force {
		for _, f := range leafFiles {
			if exists(f) {
				return nil, fmt.Errorf("%s already exists: remove it first or pass --force to overwrite", f)
			}
		}
		switch caCrt, caKey := exists(caCertFile), exists(res.CAKeyFile); {
		case caCrt && caKey:
			if ca, err = LoadCA(caCertFile, res.CAKeyFile); err != nil {
				return nil, fmt.Errorf("cannot reuse the existing CA: %w", err)
			}
			res.ReusedCA = true
		case caCrt:
			return nil, fmt.Errorf("%s already exists but its key %s does not: pass --ca-key-dir with the folder holding ca.key, or --force to make a new CA", caCertFile, res.CAKeyFile)
		case caKey:
			return nil, fmt.Errorf("%s already exists but %s does not: remove it or pass --force to make a new CA", res.CAKeyFile, caCertFile)
		}
	}
	if ca == nil {
		if ca, err = NewCA(opts.CAName, opts.KeyType, opts.Now); err != nil {
			return nil, err
		}
	}
	ca.KeyType = opts.KeyType

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.MkdirAll(caKeyDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", caKeyDir, err)
	}
	write := func(path string, data []byte, mode fs.FileMode) error {
		if err := writeFileAtomic(path, data, mode); err != nil {
			return err
		}
		res.Written = append(res.Written, path)
		return nil
	}
	if !res.ReusedCA {
		keyPEM, err := ca.KeyPEM()
		if err != nil {
			return nil, err
		}
		if err := write(res.CAKeyFile, keyPEM, 0o600); err != nil {
			return nil, err
		}
		if err := write(caCertFile, ca.CertPEM(), 0o644); err != nil {
			return nil, err
		}
	}
	issue := func(base string, certPEM, keyPEM []byte, err error) error {
		if err != nil {
			return err
		}
		if err := write(filepath.Join(dir, base+".key"), keyPEM, 0o600); err != nil {
			return err
		}
		return write(filepath.Join(dir, base+".crt"), certPEM, 0o644)
	}
	certPEM, keyPEM, err := ca.IssueServer(opts.Host, opts.Now)
	if err := issue("server", certPEM, keyPEM, err); err != nil {
		return nil, err
	}
	for _, name := range opts.Clients {
		certPEM, keyPEM, err := ca.IssueClient(name, opts.Now)
		if err := issue(name, certPEM, keyPEM, err); err != nil {
			return nil, err
		}
	}
	res.Reminder = initReminder(res, opts)
	return res, nil
}

func initReminder(res *InitResult, opts InitOpts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Broker: put this into /etc/mosquitto/conf.d/edgepub.conf (chown mosquitto %s/server.key):\n%s", res.Dir, BrokerConf(res.Dir))
	b.WriteString("  and this line into /etc/mosquitto/acl: pattern readwrite %u/#\n")
	for _, name := range opts.Clients {
		fmt.Fprintf(&b, "Device %s: copy ca.crt, %s.crt and %s.key to its certificate folder (e.g. /home/kai/mqtt-certs) and chmod 600 %s.key there.\n", name, name, name, name)
	}
	fmt.Fprintf(&b, "IMPORTANT: %s is the CA's private key. Anyone holding it can issue certificates your broker trusts. Move it to an offline place (USB stick in a drawer, password manager) and delete it here; never copy it to a device.\n", res.CAKeyFile)
	return b.String()
}

// writeFileAtomic writes through a temporary file and a rename, so a reader
// (or edgepub's watcher) never sees a half-written file.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// realPath resolves symlinks of the longest existing prefix of path.
func realPath(path string) string {
	rest := ""
	for p := path; ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		if filepath.Dir(p) == p {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// BrokerConf is the tutorial's TLS listener for the files in dir, plus
// use_username_as_clientid: the client id is then always the certificate's
// CN, so a client with another certificate cannot take over a device's
// connection by sending its client id.
func BrokerConf(dir string) string {
	return "  listener 8883\n" +
		"  cafile " + filepath.Join(dir, certs.DefaultCAFile) + "\n" +
		"  certfile " + filepath.Join(dir, "server.crt") + "\n" +
		"  keyfile " + filepath.Join(dir, "server.key") + "\n" +
		"  require_certificate true\n" +
		"  use_identity_as_username true\n" +
		"  use_username_as_clientid true\n" +
		"  acl_file /etc/mosquitto/acl\n"
}
