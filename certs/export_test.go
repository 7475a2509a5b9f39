package certs

import "context"

// WatchOpts and WatchWith let the external tests shorten the watch timings.
type WatchOpts = watchOpts

func (s *Source) WatchWith(ctx context.Context, opts WatchOpts) error { return s.watch(ctx, opts) }

// PollWith is Poll with tunable timings.
func (s *Source) PollWith(ctx context.Context, opts WatchOpts) error {
	opts.pollOnly = true
	return s.watch(ctx, opts)
}
