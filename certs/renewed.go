package certs

import (
	"fmt"
	"path/filepath"
	"time"
)

// LoadPreferred loads the configured bundle in dir and, if renewedDir holds
// a renewed pair (written by certs/renew), prefers that pair while it is
// valid, has the same identity, chains to the configured CA file and
// expires later than the configured pair. So a renewal survives restarts
// under a read-only certificate folder (systemd's LoadCredential= copies),
// and a hand-made pair that expires later wins again. why says which pair
// was chosen and, if the renewed one was passed over, the reason.
func LoadPreferred(dir string, names Names, renewedDir string, now time.Time) (b *Bundle, why string, err error) {
	base, err := Load(dir, names, now)
	if base == nil || renewedDir == "" {
		return base, "", err
	}
	if !hasPair(renewedDir) {
		return base, "", err
	}
	ren, renErr := Load(renewedDir, Names{CA: base.CAFile}, now)
	switch {
	case renErr != nil:
		return base, fmt.Sprintf("the renewed pair in %s is not used: %v", renewedDir, renErr), err
	case ren.Identity != base.Identity:
		return base, fmt.Sprintf("the renewed pair in %s is for %q, the configured one for %q: using the configured one", renewedDir, ren.Identity, base.Identity), err
	case !ren.Leaf().NotAfter.After(base.Leaf().NotAfter):
		return base, fmt.Sprintf("the configured pair %s expires after the renewed pair in %s: using the configured one", base.CertFile, renewedDir), err
	}
	return ren, fmt.Sprintf("using the renewed pair %s: it expires after the configured %s", ren.CertFile, base.CertFile), nil
}

// hasPair reports whether dir holds a .crt file, i.e. a renewal happened.
func hasPair(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.crt"))
	for _, f := range m {
		if filepath.Base(f) != "ca.crt" {
			return true
		}
	}
	return false
}

// PreferRenewed makes Reload use LoadPreferred with renewedDir.
func (s *Source) PreferRenewed(renewedDir string) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.renewedDir = renewedDir
}

// RenewedDir is the folder given to PreferRenewed, or "".
func (s *Source) RenewedDir() string {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.renewedDir
}
