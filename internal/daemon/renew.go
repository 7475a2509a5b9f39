package daemon

import (
	"github.com/edgepub/edgepub/certs/renew"
	"github.com/edgepub/edgepub/config"
)

// newRenewer returns the renewer when certs.renew is auto, else nil.
func (d *Daemon) newRenewer() *renew.Renewer {
	cfg := d.opts.Config
	if cfg.Certs.Renew != "auto" {
		return nil
	}
	urls := make([]string, len(cfg.Broker.URLs))
	for i, u := range cfg.Broker.URLs {
		urls[i], _, _ = config.ParseBrokerURL(u) // validated with the config
	}
	o := renew.Opts{
		Source:         d.certs,
		Dir:            renew.Dir(cfg.StateDir),
		BrokerURLs:     urls,
		Before:         cfg.Certs.RenewBefore.Std(),
		KeyType:        cfg.Certs.RenewKeyType,
		ConnectTimeout: cfg.Broker.ConnectTimeout.Std(),
		Logger:         d.log,
		Now:            d.now,
	}
	if d.opts.TuneRenewal != nil {
		d.opts.TuneRenewal(&o)
	}
	return renew.New(o)
}
