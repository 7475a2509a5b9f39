package renew

import (
	"context"
	"crypto"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/edgepub/edgepub/certs"
	"github.com/edgepub/edgepub/certs/internal/certfile"
	"github.com/edgepub/edgepub/certs/pki"
)

// The renewed folder Dir is a symlink to Dir-<serial>, a folder per
// renewal holding ca.crt (a copy, so `certs inspect` works on it),
// <CN>.crt and <CN>.key. Swapping the link is atomic: a reader sees the old
// pair or the new one, never half of each.

// stage writes the new pair into a folder of its own and loads it as the
// daemon will: it must chain to the configured CA file, match the new key,
// carry the same name and be valid now.
func (r *Renewer) stage(cur *certs.Bundle, key crypto.Signer, chainPEM []byte) (*certs.Bundle, error) {
	chain, err := pki.ParseCertificates(chainPEM)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	if leaf.Subject.CommonName != cur.Identity {
		return nil, fmt.Errorf("it is for %q, not %q", leaf.Subject.CommonName, cur.Identity)
	}
	dir := r.opts.Dir + "-" + pki.SerialHex(leaf.SerialNumber)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var certPEM []byte
	for i, c := range chain {
		// The root stays in ca.crt; the leaf and any intermediates go in
		// the certificate file, as a TLS client sends them.
		if i == 0 || string(c.RawIssuer) != string(c.RawSubject) {
			certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(cur.CAFile)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode fs.FileMode
	}{{cur.Identity + ".key", keyPEM, 0o600}, {cur.Identity + ".crt", certPEM, 0o644}, {"ca.crt", caPEM, 0o644}} {
		if err := certfile.WriteAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			r.discard(&certs.Bundle{Dir: dir})
			return nil, err
		}
	}
	b, err := certs.Load(dir, certs.Names{CA: cur.CAFile, Cert: cur.Identity + ".crt", Key: cur.Identity + ".key"}, r.opts.Now())
	if err != nil {
		r.discard(&certs.Bundle{Dir: dir})
		return nil, err
	}
	if !b.Leaf().PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		r.discard(b)
		return nil, errors.New("it is not for the new key")
	}
	return b, nil
}

// probe connects once with the staged pair: the old pair stays in use
// unless the broker accepts the new one.
func (r *Renewer) probe(ctx context.Context, staged *certs.Bundle) error {
	src := certs.NewSource(staged.Dir, certs.Names{CA: staged.CAFile, Cert: staged.CertFile, Key: staged.KeyFile}, staged, nil)
	c, err := r.connect(ctx, src, staged.Identity)
	if err != nil {
		return err
	}
	c.Disconnect(250)
	return nil
}

// promote points Dir at the staged folder and removes all but the previous
// renewal's folder.
func (r *Renewer) promote(staged *certs.Bundle) error {
	link := r.opts.Dir
	if st, err := os.Lstat(link); err == nil && st.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("%s is not the link edgepub keeps there: move it away so renewed certificates can be stored", link)
	}
	previous, _ := os.Readlink(link)
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(staged.Dir), tmp); err != nil {
		return fmt.Errorf("store the renewed certificate: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store the renewed certificate: %w", err)
	}
	certfile.SyncDir(filepath.Dir(link))
	old, _ := filepath.Glob(link + "-*")
	for _, d := range old {
		if base := filepath.Base(d); base != filepath.Base(staged.Dir) && base != previous {
			os.RemoveAll(d)
		}
	}
	return nil
}

func (r *Renewer) discard(b *certs.Bundle) { os.RemoveAll(b.Dir) }
