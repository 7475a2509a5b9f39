// Package buildinfo reports which build of edgepub is running, for
// `edgepub version` and the first log line.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Commit are link-time constants: the Makefile sets them with
//
//	-ldflags "-X github.com/edgepub/edgepub/internal/buildinfo.Version=… -X …Commit=…"
//
// They are variables only because the linker's -X can set nothing else;
// no code assigns them at run time.
var (
	// Version is the Debian upstream version the package was built as,
	// e.g. "1.2.0" or "0.0.0~git42.1a2b3c4".
	Version = "devel"
	// Commit is the full git commit hash the binary was built from.
	Commit = ""
)

// String describes the build on one line: version, commit, Go version and
// target platform, e.g.
// "edgepub 1.2.0 (commit 1a2b3c4…, go1.26.8, linux/arm GOARM=6)".
func String() string {
	commit, arm := Commit, ""
	if info, ok := debug.ReadBuildInfo(); ok {
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		// A plain `go build` in a git checkout stamps the revision, so the
		// commit is known even without the Makefile's -X.
		if commit == "" {
			commit = settings["vcs.revision"]
			if commit != "" && settings["vcs.modified"] == "true" {
				commit += "-dirty"
			}
		}
		if v := settings["GOARM"]; v != "" && runtime.GOARCH == "arm" {
			arm = " GOARM=" + v
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return fmt.Sprintf("edgepub %s (commit %s, %s, %s/%s%s)",
		Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, arm)
}
