package certs

import "context"

// WatchOpts and WatchWith let the external tests shorten the watch timings.
type WatchOpts = watchOpts

func (s *Source) WatchWith(ctx context.Context, opts WatchOpts) error { return s.watch(ctx, opts) }
