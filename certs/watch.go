package certs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgepub/edgepub/certs/internal/certfile"
	"github.com/edgepub/edgepub/internal/periodic"
	"github.com/fsnotify/fsnotify"
)

// watchOpts tunes the watch; tests shorten its timings.
type watchOpts struct {
	// Debounce is how long the files must stay quiet before a reload, so that
	// a certificate written before its key is read as a pair; default 1.5 s.
	Debounce time.Duration
	// Poll is how often the files are also compared by size, time and inode,
	// for file systems where change events are lost (network mounts, bind
	// mounts of single files); default 1 min, negative turns it off.
	Poll time.Duration
	// Now is the clock passed to Reload; nil means time.Now.
	Now func() time.Time
	// Started, if set, is called once the files are watched, so a test
	// changes them only after that.
	Started func()
	// pollOnly skips the change events: only Poll compares the files.
	pollOnly bool
}

// Default watch timings.
const (
	DefaultWatchDebounce = 1500 * time.Millisecond
	DefaultWatchPoll     = time.Minute
)

// Watch reloads the bundle whenever its files change, until ctx is done. It
// follows replacements by rename, in-place writes, symlinked files and
// directories (Kubernetes ..data swaps, a re-pointed directory link) and files
// given by absolute path outside the directory. Failed reloads are logged
// (once per distinct error) and the current pair stays in use. It returns nil
// when ctx is done.
func (s *Source) Watch(ctx context.Context, now func() time.Time) error {
	return s.watch(ctx, watchOpts{Now: now})
}

// Poll is Watch without change events: it compares the files by size, time
// and inode every interval and reloads the bundle when they changed. It
// needs no inotify instance (fs.inotify.max_user_instances is 128 per user
// by default) and no event reader, whose 64 KiB read buffer lives on its
// goroutine's stack: for many daemons in one process, like the fleet
// benchmark's. It returns nil when ctx is done.
func (s *Source) Poll(ctx context.Context, now func() time.Time, interval time.Duration) error {
	l, err := s.StartPoll(ctx, now, interval)
	if err != nil {
		return err
	}
	l.Wait()
	return nil
}

// StartPoll is Poll on a timer: it returns at once, and between polls no
// goroutine waits.
func (s *Source) StartPoll(ctx context.Context, now func() time.Time, interval time.Duration) (*periodic.Loop, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("certificate poll interval %v: must be greater than 0", interval)
	}
	return s.startPoll(ctx, watchOpts{Now: now, Poll: interval, pollOnly: true}), nil
}

// watch is Watch with tunable timings.
func (s *Source) watch(ctx context.Context, opts watchOpts) error {
	opts = opts.withDefaults()
	if opts.pollOnly {
		s.startPoll(ctx, opts).Wait()
		return nil
	}
	w := &dirWatch{source: s, opts: opts}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		if opts.Poll < 0 {
			return err
		}
		s.logger.Warn("cannot watch the certificate files for changes, checking them every "+opts.Poll.String()+" instead", slog.Any("error", err))
	} else {
		w.fsw = fsw
		defer fsw.Close()
	}
	return w.run(ctx)
}

func (o watchOpts) withDefaults() watchOpts {
	if o.Debounce <= 0 {
		o.Debounce = DefaultWatchDebounce
	}
	if o.Poll == 0 {
		o.Poll = DefaultWatchPoll
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

type dirWatch struct {
	source *Source
	opts   watchOpts
	fsw    *fsnotify.Watcher // nil when only polling

	targets  map[string]map[string]bool // watched dir → names that matter (nil: all)
	resolved map[string]string          // watched dir → where it pointed when added
	lastErr  string
	state    string // the files as last loaded
	polled   string // the files as last polled
}

// begin reads the files' state and reports the watch started.
func (w *dirWatch) begin() {
	w.resolved = map[string]string{}
	w.sync()
	w.state = w.fileState()
	w.polled = w.state
	if w.opts.Started != nil {
		w.opts.Started()
	}
}

func (w *dirWatch) run(ctx context.Context) error {
	w.begin()

	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if w.fsw != nil {
		events, watchErrs = w.fsw.Events, w.fsw.Errors
	}
	var pollC <-chan time.Time
	if w.opts.Poll > 0 {
		t := time.NewTicker(w.opts.Poll)
		defer t.Stop()
		pollC = t.C
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if w.matters(ev.Name) {
				debounce.Reset(w.opts.Debounce)
			}
		case err, ok := <-watchErrs:
			if !ok {
				watchErrs = nil
				continue
			}
			// An overflowed event queue loses changes: reload to be sure.
			w.source.logger.Warn("certificate watch", slog.Any("error", err))
			debounce.Reset(w.opts.Debounce)
		case <-pollC:
			// Like an event, only a change since the last poll restarts
			// the debounce: polled more often than Debounce, unchanged
			// new files would otherwise put their reload off forever.
			w.sync()
			if st := w.fileState(); st != w.polled {
				w.polled = st
				if st != w.state {
					debounce.Reset(w.opts.Debounce)
				}
			}
		case <-debounce.C:
			w.reload()
		}
	}
}

// startPoll is watch without change events, on a timer: each round polls
// the files when a poll is due and reloads them once they stayed unchanged
// for Debounce, like run's poll and debounce timers.
func (s *Source) startPoll(ctx context.Context, opts watchOpts) *periodic.Loop {
	opts = opts.withDefaults()
	w := &dirWatch{source: s, opts: opts}
	w.begin()
	var reloadAt time.Time // zero: no reload due
	nextPoll := time.Now().Add(opts.Poll)
	return periodic.Start(ctx, opts.Poll, func(context.Context) (time.Duration, bool) {
		now := time.Now()
		if !reloadAt.IsZero() && !now.Before(reloadAt) {
			reloadAt = time.Time{}
			w.reload()
		}
		if !now.Before(nextPoll) {
			nextPoll = periodic.NextTick(nextPoll, now, opts.Poll)
			// Only a change since the last poll restarts the debounce, as
			// in run.
			w.sync()
			if st := w.fileState(); st != w.polled {
				w.polled = st
				if st != w.state {
					reloadAt = now.Add(opts.Debounce)
				}
			}
		}
		next := nextPoll
		if !reloadAt.IsZero() && reloadAt.Before(next) {
			next = reloadAt
		}
		return time.Until(next), true
	})
}

func (w *dirWatch) reload() {
	w.sync()
	w.state = w.fileState()
	w.polled = w.state
	err := w.source.Reload(w.opts.Now())
	w.sync() // the bundle may now name other files
	if err == nil {
		w.lastErr = ""
		return
	}
	if err.Error() == w.lastErr {
		return
	}
	w.lastErr = err.Error()
	var validity *ValidityError
	if errors.As(err, &validity) {
		w.source.logger.Error(err.Error(), slog.String("file", validity.File))
		return
	}
	w.source.logger.Error("certificate reload failed: "+err.Error(), slog.String("dir", w.source.dir))
}

// matters reports whether a change to path can affect the bundle.
func (w *dirWatch) matters(path string) bool {
	if names, ok := w.targets[filepath.Clean(path)]; ok && names == nil {
		return true // the directory itself was removed or renamed
	}
	names, ok := w.targets[filepath.Dir(path)]
	return ok && (names == nil || names[filepath.Base(path)])
}

// wanted computes what to watch: the cert directory, its parent for the
// directory's own name (a re-pointed symlink), and the folders of the
// bundle's files and of their symlink targets for those files' names.
func (w *dirWatch) wanted() map[string]map[string]bool {
	want := map[string]map[string]bool{}
	addAll := func(dir string) { want[dir] = nil }
	addName := func(dir, name string) {
		names, ok := want[dir]
		if ok && names == nil {
			return
		}
		if !ok {
			names = map[string]bool{}
			want[dir] = names
		}
		names[name] = true
	}
	dir := absDir(w.source.dir)
	addAll(dir)
	if parent := filepath.Dir(dir); parent != dir {
		addName(parent, filepath.Base(dir))
	}
	b := w.source.Current()
	for _, f := range []string{b.CAFile, b.CertFile, b.KeyFile} {
		addName(filepath.Dir(f), filepath.Base(f))
		if real, err := filepath.EvalSymlinks(f); err == nil && real != f {
			addName(filepath.Dir(real), filepath.Base(real))
		}
	}
	return want
}

// sync makes the watch list match wanted(), re-adding a directory whose path
// now resolves elsewhere.
func (w *dirWatch) sync() {
	w.targets = w.wanted()
	if w.fsw == nil {
		return
	}
	for dir := range w.resolved {
		if _, ok := w.targets[dir]; !ok {
			_ = w.fsw.Remove(dir)
			delete(w.resolved, dir)
		}
	}
	watching := map[string]bool{}
	for _, d := range w.fsw.WatchList() {
		watching[d] = true
	}
	for dir := range w.targets {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			if watching[dir] {
				_ = w.fsw.Remove(dir)
			}
			delete(w.resolved, dir)
			continue // appears later: the poll or a parent event re-syncs
		}
		if watching[dir] && w.resolved[dir] == real {
			continue
		}
		if watching[dir] {
			_ = w.fsw.Remove(dir)
		}
		if err := w.fsw.Add(dir); err == nil {
			w.resolved[dir] = real
		} else {
			delete(w.resolved, dir)
		}
	}
}

// fileState summarises the bundle files as seen through all symlinks.
func (w *dirWatch) fileState() string {
	b := w.source.Current()
	real, _ := filepath.EvalSymlinks(w.source.dir)
	state := real
	for _, f := range []string{b.CAFile, b.CertFile, b.KeyFile} {
		st, err := os.Stat(f)
		if err != nil {
			state += "|" + err.Error()
			continue
		}
		state += fmt.Sprintf("|%d %d %s", st.ModTime().UnixNano(), st.Size(), certfile.FileIdentity(st))
	}
	return state
}
