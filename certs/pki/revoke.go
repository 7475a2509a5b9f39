package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgepub/edgepub/certs/internal/certfile"
)

// DefaultCRLValidity is how long a CRL written by `ca crl` stays valid;
// `ca serve` writes a new one when half of it is gone.
const DefaultCRLValidity = 30 * 24 * time.Hour

// Revoke marks certificates revoked in index.txt. target is a device name
// (every valid certificate of that CN), a serial in hex as index.txt and
// `openssl x509 -serial` show it, or the path of a certificate file (for
// certificates made by hand, which index.txt does not know). reason is one
// of ReasonNames; empty means unspecified. It returns what it revoked.
func (a *Authority) Revoke(target, reason string, now time.Time) ([]Entry, error) {
	if reason != "" {
		if _, ok := reasonCodes[reason]; !ok {
			return nil, fmt.Errorf("revocation reason %q is not known: use one of %s", reason, strings.Join(ReasonNames(), ", "))
		}
	}
	entries, unlock, err := a.lockedIndex()
	if err != nil {
		return nil, err
	}
	defer unlock()
	revoke := func(e *Entry) {
		e.Status, e.Revoked, e.Reason = 'R', now, reason
	}
	var done []Entry
	if st, err := os.Stat(target); err == nil && !st.IsDir() {
		data, err := os.ReadFile(target)
		if err != nil {
			return nil, err
		}
		certs, err := ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", target, err)
		}
		c := certs[0]
		if err := c.CheckSignatureFrom(a.Cert); err != nil {
			return nil, fmt.Errorf("%s (CN %s) is not signed by %s: revoke it with the CA that issued it", target, c.Subject.CommonName, a.CertFile)
		}
		e := find(entries, c.SerialNumber)
		if e == nil {
			entries = append(entries, Entry{Status: 'V', Expires: c.NotAfter, Serial: c.SerialNumber, File: "unknown", Subject: "/CN=" + c.Subject.CommonName})
			e = &entries[len(entries)-1]
		}
		if e.Status == 'R' {
			return nil, fmt.Errorf("%s (serial %s) is already revoked", target, SerialHex(c.SerialNumber))
		}
		revoke(e)
		done = append(done, *e)
	} else if serial, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(target), "0x"), 16); ok && find(entries, serial) != nil {
		e := find(entries, serial)
		if e.Status == 'R' {
			return nil, fmt.Errorf("serial %s (%s) is already revoked", SerialHex(serial), e.CN())
		}
		revoke(e)
		done = append(done, *e)
	} else {
		for i := range entries {
			if entries[i].CN() == target && entries[i].Status == 'V' {
				revoke(&entries[i])
				done = append(done, entries[i])
			}
		}
		if len(done) == 0 {
			return nil, fmt.Errorf("%w: nothing valid for %q in %s; a certificate made by hand (openssl x509 -req) is not recorded there: pass its .crt file instead", ErrNotFound, target, a.indexFile())
		}
	}
	if err := a.writeIndex(entries); err != nil {
		return nil, err
	}
	return done, nil
}

// WriteCRL writes crl.pem beside ca.crt, listing every revoked certificate
// of index.txt, valid from now for validity, with the next crlnumber.
func (a *Authority) WriteCRL(now time.Time, validity time.Duration) (*x509.RevocationList, error) {
	if validity <= 0 {
		validity = DefaultCRLValidity
	}
	entries, unlock, err := a.lockedIndex()
	if err != nil {
		return nil, err
	}
	defer unlock()
	number, err := a.nextCRLNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.RevocationList{Number: number, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(validity)}
	for _, e := range entries {
		if e.Status != 'R' {
			continue
		}
		re := x509.RevocationListEntry{SerialNumber: e.Serial, RevocationTime: e.Revoked}
		if code, ok := reasonCodes[e.Reason]; ok && code != 0 {
			re.ReasonCode = code
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, re)
	}
	// Go insists on crlSign and a key id; the tutorial's `openssl req -x509`
	// CA has no keyUsage at all, which RFC 5280 reads as every usage.
	issuer := *a.Cert
	if issuer.KeyUsage == 0 {
		issuer.KeyUsage = x509.KeyUsageCRLSign | x509.KeyUsageCertSign
	}
	if len(issuer.SubjectKeyId) == 0 {
		issuer.SubjectKeyId = subjectKeyID(a.Cert.PublicKey)
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, &issuer, a.key)
	if err != nil {
		return nil, fmt.Errorf("sign the CRL with %s: %w", a.KeyFile, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	if err := certfile.WriteAtomic(a.CRLFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	next := new(big.Int).Add(number, big.NewInt(1))
	if err := certfile.WriteAtomic(filepath.Join(a.Dir, "crlnumber"), []byte(SerialHex(next)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return crl, nil
}

// nextCRLNumber reads openssl ca's crlnumber file (hex); none means 1.
func (a *Authority) nextCRLNumber() (*big.Int, error) {
	path := filepath.Join(a.Dir, "crlnumber")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return big.NewInt(1), nil
	}
	if err != nil {
		return nil, err
	}
	n, ok := new(big.Int).SetString(strings.TrimSpace(string(data)), 16)
	if !ok {
		return nil, fmt.Errorf("%s does not hold a hex number: write 01 into it", path)
	}
	return n, nil
}

// CRL reads crl.pem and checks that the CA signed it.
func (a *Authority) CRL() (*x509.RevocationList, error) {
	data, err := os.ReadFile(a.CRLFile)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "X509 CRL" {
		return nil, fmt.Errorf("%s is not a PEM CRL: write it again with `edgepub ca crl`", a.CRLFile)
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s does not parse (%v): write it again with `edgepub ca crl`", a.CRLFile, err)
	}
	if err := crl.CheckSignatureFrom(a.Cert); err != nil {
		return nil, fmt.Errorf("%s is not signed by %s (%v): write it again with `edgepub ca crl`", a.CRLFile, a.CertFile, err)
	}
	return crl, nil
}

// Revoked reports whether serial is on a revocation list.
func Revoked(crl *x509.RevocationList, serial *big.Int) bool {
	return slices.ContainsFunc(crl.RevokedCertificateEntries, func(e x509.RevocationListEntry) bool { return e.SerialNumber.Cmp(serial) == 0 })
}
