package certs

import "context"

// WatchOpts, StartWatch and Watch let the external tests shorten the watch
// timings and start watching before they change files.
type WatchOpts = watchOpts

// Watch is a registered watch.
type Watch struct{ w *dirWatch }

// StartWatch registers the watches; changes made after it returns are seen.
func (s *Source) StartWatch(opts WatchOpts) (Watch, error) {
	w, err := s.newWatch(opts)
	return Watch{w}, err
}

// Run follows the files until ctx is done.
func (w Watch) Run(ctx context.Context) error { return w.w.run(ctx) }
