package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgepub/edgepub/certs/pki"
)

// identity is one simulated device's name and directories.
type identity struct {
	Name     string
	CertDir  string // ca.crt, <name>.crt, <name>.key as a device gets them
	StateDir string
}

// pkiFiles are the broker's and the monitor's files, and two cert
// directories as edgepub reads them: the monitor's, and that of "sim", the
// console benchmark's publisher of synthetic device messages.
type pkiFiles struct {
	CA, ServerCert, ServerKey, MonitorCert, MonitorKey string
	MonitorDir, SimDir                                 string
}

// keyOpts chooses the fleet's keys.
type keyOpts struct {
	// Type is the key type of the CA, the broker and every device; empty
	// means ECDSA P-256.
	Type pki.KeyType
	// Pool, if above 0, is how many device keys are made; devices share
	// them in turn. A 2048-bit RSA key takes about 0.1 s of CPU to make,
	// so 10,000 distinct ones would take longer than the run. The broker's
	// work per handshake is the same whether two devices share a key or not.
	Pool int
}

// makePKI issues, with the project's own CA code, a server certificate for
// 127.0.0.1, a monitor identity and one client certificate per device, and
// lays out each device's cert and state directories under root.
func makePKI(root string, n int, keys keyOpts, now time.Time) (pkiFiles, []identity, error) {
	ca, err := pki.NewCA("", keys.Type, now)
	if err != nil {
		return pkiFiles{}, nil, err
	}
	pool := make([]crypto.Signer, keys.Pool)
	for i := range pool {
		// A certificate issued just for its key.
		_, keyPEM, err := ca.IssueClient(fmt.Sprintf("key-%d", i), now)
		if err != nil {
			return pkiFiles{}, nil, err
		}
		if pool[i], err = parseKey(keyPEM); err != nil {
			return pkiFiles{}, nil, err
		}
	}
	dir := filepath.Join(root, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return pkiFiles{}, nil, err
	}
	f := pkiFiles{
		CA:         filepath.Join(dir, "ca.crt"),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		MonitorCert: filepath.Join(dir, "monitor.crt"), MonitorKey: filepath.Join(dir, "monitor.key"),
	}
	if err := os.WriteFile(f.CA, ca.CertPEM(), 0o600); err != nil {
		return pkiFiles{}, nil, err
	}
	serverCert, serverKey, err := ca.IssueServer("127.0.0.1", now)
	if err != nil {
		return pkiFiles{}, nil, err
	}
	monitorCert, monitorKey, err := ca.IssueClient("monitor", now)
	if err != nil {
		return pkiFiles{}, nil, err
	}
	for path, data := range map[string][]byte{f.ServerCert: serverCert, f.ServerKey: serverKey, f.MonitorCert: monitorCert, f.MonitorKey: monitorKey} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return pkiFiles{}, nil, err
		}
	}
	simCert, simKey, err := ca.IssueClient("sim", now)
	if err != nil {
		return pkiFiles{}, nil, err
	}
	f.MonitorDir, f.SimDir = filepath.Join(root, "monitor"), filepath.Join(root, "sim")
	for d, files := range map[string]map[string][]byte{
		f.MonitorDir: {"ca.crt": ca.CertPEM(), "monitor.crt": monitorCert, "monitor.key": monitorKey},
		f.SimDir:     {"ca.crt": ca.CertPEM(), "sim.crt": simCert, "sim.key": simKey},
	} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return pkiFiles{}, nil, err
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(d, name), data, 0o600); err != nil {
				return pkiFiles{}, nil, err
			}
		}
	}

	ids := make([]identity, n)
	for i := range ids {
		id := deviceIdentity(root, i)
		name := id.Name
		for _, d := range []string{id.CertDir, id.StateDir} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return pkiFiles{}, nil, err
			}
		}
		req := pki.IssueRequest{CommonName: name, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(pki.LeafLifetime)}
		if len(pool) > 0 {
			req.Key = pool[i%len(pool)]
		}
		cert, key, err := ca.Issue(req)
		if err != nil {
			return pkiFiles{}, nil, err
		}
		for file, data := range map[string][]byte{"ca.crt": ca.CertPEM(), name + ".crt": cert, name + ".key": key} {
			if err := os.WriteFile(filepath.Join(id.CertDir, file), data, 0o600); err != nil {
				return pkiFiles{}, nil, err
			}
		}
		ids[i] = id
	}
	return f, ids, nil
}

// deviceIdentity is device i's name and directories under root, as
// makePKI lays them out.
func deviceIdentity(root string, i int) identity {
	name := fmt.Sprintf("dev-%04d", i)
	return identity{Name: name, CertDir: filepath.Join(root, "devices", name, "certs"), StateDir: filepath.Join(root, "devices", name, "state")}
}

func parseKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("issued key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("issued key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("issued key of type %T cannot sign", key)
	}
	return signer, nil
}

// parseKeyType turns the -key flag into a key type.
func parseKeyType(s string) (pki.KeyType, error) {
	switch s {
	case "ec":
		return pki.KeyECDSAP256, nil
	case "rsa":
		return pki.KeyRSA2048, nil
	}
	return "", fmt.Errorf("-key %q: use ec (ECDSA P-256) or rsa (RSA 2048, as the tutorial)", s)
}
