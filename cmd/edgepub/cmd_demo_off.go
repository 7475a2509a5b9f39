//go:build nodemo

package main

import (
	"context"
	"errors"
	"io"
)

// The packaged daemon is built with -tags nodemo: the embedded demo broker
// would cost every `edgepub run` about 1 MiB of memory (BENCHMARKS.md).
func cmdDemo(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		io.WriteString(stdout, "Usage: edgepub demo [flags]\n\nNot built into this binary; run it from the source tree: go run ./cmd/edgepub demo\n")
		return nil
	}
	return errors.New("demo: not built into this binary (packages leave it out to save memory); run it from the source tree: go run ./cmd/edgepub demo")
}
