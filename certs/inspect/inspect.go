// Package inspect reports on a certificate folder for `edgepub certs inspect`:
// every file's kind, owner, mode and content, which key belongs to which
// certificate, and whether the folder loads as the daemon's bundle.
package inspect

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// Report describes a certificate directory for `edgepub certs inspect`. Its
// JSON field names are stable.
type Report struct {
	// Dir is the directory, absolute.
	Dir string `json:"dir"`
	// CheckedAt is the time validity was judged at.
	CheckedAt time.Time `json:"checked_at"`
	// Bundle is the outcome of loading the directory as the daemon would.
	Bundle BundleReport `json:"bundle"`
	// Files describes every file except dot files, in name order.
	Files []FileReport `json:"files"`
}

// BundleReport is the outcome of certs.Load on the directory.
type BundleReport struct {
	// OK is true when certs.Load succeeded (an expired certificate is not OK).
	OK bool `json:"ok"`
	// Identity is the client certificate's CN, when the bundle loaded.
	Identity string `json:"identity,omitempty"`
	// CAFile, CertFile and KeyFile are the files used or discovered.
	CAFile   string `json:"ca_file,omitempty"`
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// Error is certs.Load's error message, if any.
	Error string `json:"error,omitempty"`
	// Warnings are certs.Load's hygiene warnings.
	Warnings []certs.Warning `json:"warnings,omitempty"`
}

// FileReport describes one file of the directory.
type FileReport struct {
	// Name is the file name; Path the absolute path.
	Name string `json:"name"`
	Path string `json:"path"`
	// SymlinkTarget is where a symlink points, empty for plain files.
	SymlinkTarget string `json:"symlink_target,omitempty"`
	// Mode is the permission bits in octal, e.g. "0600".
	Mode string `json:"mode"`
	// Owner and Group are names where known, else numbers.
	Owner string `json:"owner"`
	Group string `json:"group"`
	// Size is in bytes.
	Size int64 `json:"size"`
	// Kind is certificate, private_key, certificate_request, other or
	// unreadable.
	Kind string `json:"kind"`
	// Error says why the content could not be understood.
	Error string `json:"error,omitempty"`
	// Certificates are those of a certificate file, in file order.
	Certificates []CertReport `json:"certificates,omitempty"`
	// Key describes a private key file.
	Key *KeyReport `json:"key,omitempty"`
	// Warnings are hygiene problems: a key others can read, the CA's key.
	Warnings []string `json:"warnings,omitempty"`
}

// CertReport describes one certificate.
type CertReport struct {
	// Subject and Issuer are distinguished names; CommonName the subject CN.
	Subject    string `json:"subject"`
	CommonName string `json:"common_name"`
	Issuer     string `json:"issuer"`
	// Serial is hex with colons, as openssl prints it.
	Serial string `json:"serial"`
	// Version is the X.509 version: 1 for the tutorial's openssl x509 -req.
	Version int `json:"version"`
	// NotBefore and NotAfter bound the validity.
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// DaysLeft is as certs.DaysLeft; Status grades it with the default thresholds.
	DaysLeft int         `json:"days_left"`
	Status   certs.Level `json:"status"`
	// DNSNames and IPAddresses are the subjectAltNames.
	DNSNames    []string `json:"dns_names,omitempty"`
	IPAddresses []string `json:"ip_addresses,omitempty"`
	// HasSAN is true when a subjectAltName extension is present, even one
	// without DNS names or addresses: the CN then names no host.
	HasSAN bool `json:"has_san"`
	// IsCA is the basic constraint.
	IsCA bool `json:"is_ca"`
	// ExtKeyUsage lists the extended key usages, "none" if unrestricted.
	ExtKeyUsage string `json:"ext_key_usage"`
	// KeyType ("RSA", "ECDSA P-256", "Ed25519") and KeyBits of the public key.
	KeyType string `json:"key_type"`
	KeyBits int    `json:"key_bits"`
	// SHA256 is the certificate's fingerprint, hex with colons.
	SHA256 string `json:"sha256"`
	// ChainOK is true when the certificate is, or chains to, one of the CA file.
	ChainOK bool `json:"chain_ok"`
	// Chain says how it relates to the CA file, in words.
	Chain string `json:"chain"`
	// MatchingKeys names the key files of the directory that belong to it.
	MatchingKeys []string `json:"matching_keys,omitempty"`

	pub any
}

// KeyReport describes one private key.
type KeyReport struct {
	// Type is as CertReport.KeyType; Bits its size.
	Type string `json:"type"`
	Bits int    `json:"bits"`
	// Encoding is PKCS#1, PKCS#8 or SEC1.
	Encoding string `json:"encoding,omitempty"`
	// Encrypted is true for a passphrase-protected key, which edgepub cannot use.
	Encrypted bool `json:"encrypted"`
	// Matches names the certificate files of the directory this key belongs to.
	Matches []string `json:"matches,omitempty"`
}

// Dir describes every file of dir and the outcome of loading it as a bundle
// with names, as the daemon would.
func Dir(dir string, names certs.Names, now time.Time) (*Report, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, certfile.ReadError(dir, "certificate directory", "certs.dir", err)
	}
	r := &Report{Dir: dir, CheckedAt: now}

	b, loadErr := certs.Load(dir, names, now)
	switch {
	case b != nil:
		r.Bundle = BundleReport{OK: loadErr == nil, Identity: b.Identity, CAFile: b.CAFile, CertFile: b.CertFile, KeyFile: b.KeyFile, Warnings: b.Warnings}
	default:
		if n, err := certs.Discover(dir, names); err == nil {
			r.Bundle = BundleReport{CAFile: n.CA, CertFile: n.Cert, KeyFile: n.Key}
		}
	}
	if loadErr != nil {
		r.Bundle.Error = loadErr.Error()
	}
	caFile := r.Bundle.CAFile
	if caFile == "" {
		caFile = filepath.Join(dir, certs.DefaultCAFile)
	}
	var cas []*x509.Certificate
	if data, err := certfile.ReadBounded(caFile); err == nil {
		cas, _ = certfile.ParseCertificates(caFile, "CA certificate", data)
	}

	type keyed struct {
		file int // index into r.Files, which still grows
		key  certfile.Key
	}
	var keys []keyed
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fr := FileReport{Name: e.Name(), Path: path}
		if target, err := os.Readlink(path); err == nil {
			fr.SymlinkTarget = target
		}
		st, err := os.Stat(path)
		if err != nil {
			fr.Kind, fr.Error = "unreadable", err.Error()
			r.Files = append(r.Files, fr)
			continue
		}
		if st.IsDir() {
			continue
		}
		fr.Mode = fmt.Sprintf("%04o", st.Mode().Perm())
		fr.Size = st.Size()
		if uid, gid, ok := certfile.FileOwner(st); ok {
			fr.Owner, fr.Group = certfile.UserName(uid), certfile.GroupName(gid)
		}
		key, hasKey := describeFile(&fr, path, cas, now)
		if fr.Kind == "private_key" && st.Mode().Perm()&0o077 != 0 {
			fr.Warnings = append(fr.Warnings, fmt.Sprintf("readable by group or others: run `chmod 600 %s`", path))
		}
		r.Files = append(r.Files, fr)
		if hasKey {
			keys = append(keys, keyed{file: len(r.Files) - 1, key: key})
		}
	}
	// Pair keys with certificates once all files are read.
	for _, k := range keys {
		keyFile := &r.Files[k.file]
		for fi := range r.Files {
			f := &r.Files[fi]
			for ci := range f.Certificates {
				c := &f.Certificates[ci]
				if c.pub != nil && certfile.SamePublicKey(c.pub, k.key.Signer.Public()) {
					c.MatchingKeys = append(c.MatchingKeys, keyFile.Name)
					keyFile.Key.Matches = appendOnce(keyFile.Key.Matches, f.Name)
				}
			}
		}
		if keyFile.Name == certfile.CAKeyName || contains(keyFile.Key.Matches, filepath.Base(caFile)) {
			keyFile.Warnings = append(keyFile.Warnings, "this is the CA's private key: move it to an offline place and delete it here")
		}
	}
	return r, nil
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// describeFile fills fr from the file's content; it returns the private key
// if the file holds one.
func describeFile(fr *FileReport, path string, cas []*x509.Certificate, now time.Time) (certfile.Key, bool) {
	data, err := certfile.ReadBounded(path)
	kind, _, notRegular := certfile.NotRegular(err)
	switch {
	case notRegular:
		fr.Kind, fr.Error = "other", "not read: not a regular file but "+kind
		return certfile.Key{}, false
	case errors.Is(err, certfile.ErrTooLarge):
		fr.Kind, fr.Error = "other", "not read: "+err.Error()
		return certfile.Key{}, false
	case err != nil:
		fr.Kind, fr.Error = "unreadable", certfile.ReadError(path, "file", "certs.dir", err).Error()
		return certfile.Key{}, false
	}
	var types []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		types = append(types, block.Type)
	}
	switch {
	case contains(types, certfile.PEMCertificate):
		fr.Kind = "certificate"
		certs, err := certfile.ParseCertificates(path, "certificate", data)
		if err != nil {
			fr.Error = err.Error()
			return certfile.Key{}, false
		}
		for i, c := range certs {
			fr.Certificates = append(fr.Certificates, describeCert(c, certs[i+1:], cas, now))
		}
	case containsKey(types):
		fr.Kind = "private_key"
		key, err := certfile.ParsePrivateKey(path, "private key", data)
		if err != nil {
			fr.Error = err.Error()
			if isEncrypted(types, data) {
				fr.Key = &KeyReport{Type: "unknown (encrypted)", Encrypted: true}
			}
			return certfile.Key{}, false
		}
		typ, bits := certfile.KeyDescription(key.Signer.Public())
		fr.Key = &KeyReport{Type: typ, Bits: bits, Encoding: key.Encoding}
		return key, true
	case contains(types, certfile.PEMRequest) || contains(types, certfile.PEMNewRequest):
		fr.Kind = "certificate_request"
	default:
		fr.Kind = "other"
	}
	return certfile.Key{}, false
}

func isEncrypted(types []string, data []byte) bool {
	return contains(types, certfile.PEMEncryptedPKCS8) || bytes.Contains(data, []byte("Proc-Type: 4,ENCRYPTED"))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsKey(types []string) bool {
	for _, t := range types {
		if certfile.IsKeyBlock(t) {
			return true
		}
	}
	return false
}

func describeCert(c *x509.Certificate, rest, cas []*x509.Certificate, now time.Time) CertReport {
	typ, bits := certfile.KeyDescription(c.PublicKey)
	sum := sha256.Sum256(c.Raw)
	cr := CertReport{
		Subject:     c.Subject.String(),
		CommonName:  c.Subject.CommonName,
		Issuer:      c.Issuer.String(),
		Serial:      colonHex(c.SerialNumber.Bytes()),
		Version:     c.Version,
		NotBefore:   c.NotBefore,
		NotAfter:    c.NotAfter,
		DaysLeft:    certs.DaysLeft(c, now),
		Status:      certs.Grade(c, now, certs.DefaultWarnDays, certs.DefaultErrorDays),
		DNSNames:    c.DNSNames,
		HasSAN:      certs.HasSAN(c),
		IsCA:        c.IsCA,
		ExtKeyUsage: certfile.ExtKeyUsageNames(c.ExtKeyUsage),
		KeyType:     typ,
		KeyBits:     bits,
		SHA256:      colonHex(sum[:]),
		pub:         c.PublicKey,
	}
	for _, ip := range c.IPAddresses {
		cr.IPAddresses = append(cr.IPAddresses, ip.String())
	}
	switch {
	case len(cas) == 0:
		cr.Chain = "not checked: no readable CA file"
	case certfile.ContainsCert(cas, c) && certfile.IsSelfSigned(c):
		cr.ChainOK, cr.Chain = true, "is a root of the CA file"
	case certfile.ContainsCert(cas, c):
		_, ok := certfile.SignaturePath(c, cas, cas)
		cr.ChainOK = ok
		cr.Chain = "is an intermediate of the CA file"
		if !ok {
			cr.Chain += ", but no root of the file signs it"
		}
	default:
		if path, ok := certfile.SignaturePath(c, rest, cas); ok {
			cr.ChainOK = true
			cr.Chain = "signed by " + certfile.SubjectCN(path[len(path)-1]) + " of the CA file"
			if len(path) > 2 {
				cr.Chain += fmt.Sprintf(" via %d intermediate(s)", len(path)-2)
			}
		} else {
			cr.Chain = "NOT signed by the CA file (issuer " + certfile.IssuerCN(c) + ")"
		}
	}
	return cr
}

// daysText says how long a certificate has left, or how long ago it
// expired, as a person would.
func daysText(days int) string {
	switch {
	case days < -1:
		return fmt.Sprintf("expired %d days ago", -days)
	case days == -1:
		return "expired 1 day ago"
	case days == 0:
		return "expires within a day"
	case days == 1:
		return "1 day left"
	}
	return fmt.Sprintf("%d days left", days)
}

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	var out strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			out.WriteByte(':')
		}
		out.WriteString(h[i : i+2])
	}
	return out.String()
}

// WriteText writes the report for a person: the bundle verdict, then one
// block per file with labels in one column.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-12s %s\n", label, certfile.Printable(fmt.Sprintf(format, args...)))
	}
	fmt.Fprintf(&b, "Certificate folder %s (checked %s)\n", r.Dir, r.CheckedAt.UTC().Format("2006-01-02 15:04 MST"))
	switch {
	case r.Bundle.OK:
		line("bundle", "OK, identity %q (certificate %s, key %s, CA %s)", r.Bundle.Identity, filepath.Base(r.Bundle.CertFile), filepath.Base(r.Bundle.KeyFile), filepath.Base(r.Bundle.CAFile))
	case r.Bundle.Identity != "":
		line("bundle", "USABLE BUT NOT VALID NOW, identity %q: %s", r.Bundle.Identity, r.Bundle.Error)
	default:
		line("bundle", "NOT USABLE: %s", r.Bundle.Error)
	}
	for _, warn := range r.Bundle.Warnings {
		line("WARNING", "%s", warn.Message)
	}
	for _, f := range r.Files {
		link := ""
		if f.SymlinkTarget != "" {
			link = " -> " + f.SymlinkTarget
		}
		fmt.Fprintf(&b, "\n%s%s (%s, mode %s, owner %s:%s, %d bytes)\n", certfile.Printable(f.Name), certfile.Printable(link), strings.ReplaceAll(f.Kind, "_", " "), f.Mode, f.Owner, f.Group, f.Size)
		if f.Error != "" {
			line("problem", "%s", f.Error)
		}
		for _, warn := range f.Warnings {
			line("WARNING", "%s", warn)
		}
		for i, c := range f.Certificates {
			if len(f.Certificates) > 1 {
				fmt.Fprintf(&b, "  certificate %d of %d\n", i+1, len(f.Certificates))
			}
			line("subject", "%s", c.Subject)
			line("issuer", "%s", c.Issuer)
			line("serial", "%s (X.509 v%d)", c.Serial, c.Version)
			line("valid", "%s to %s (%s, %s)", c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly), daysText(c.DaysLeft), c.Status)
			line("names", "%s", certNames(c))
			line("usage", "CA=%t, extended key usage %s", c.IsCA, c.ExtKeyUsage)
			line("public key", "%s", keyText(c.KeyType, c.KeyBits))
			line("chain", "%s", c.Chain)
			if len(c.MatchingKeys) > 0 {
				line("private key", "%s", strings.Join(c.MatchingKeys, ", "))
			}
			line("sha256", "%s", c.SHA256)
		}
		if k := f.Key; k != nil {
			if k.Encrypted {
				line("key", "encrypted with a passphrase")
				continue
			}
			matches := "no certificate in this folder"
			if len(k.Matches) > 0 {
				matches = strings.Join(k.Matches, ", ")
			}
			line("key", "%s, %s", keyText(k.Type, k.Bits), k.Encoding)
			line("belongs to", "%s", matches)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func certNames(c CertReport) string {
	names := append(append([]string(nil), c.DNSNames...), c.IPAddresses...)
	switch {
	case len(names) == 0 && c.HasSAN:
		return "no host name (the subjectAltName holds only directory or other names; the CN is not used)"
	case len(names) == 0:
		return "no subjectAltName (CN " + c.CommonName + " only)"
	}
	return strings.Join(names, ", ")
}

func keyText(typ string, bits int) string {
	if strings.HasPrefix(typ, "RSA") {
		return fmt.Sprintf("%s %d", typ, bits)
	}
	return typ
}
