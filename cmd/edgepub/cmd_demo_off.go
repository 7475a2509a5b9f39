//go:build nodemo

package main

import (
	"context"
	"errors"
	"io"
)

// demoBuilt: the packaged daemon is built with -tags nodemo, since the
// embedded demo broker would cost every `edgepub run` about 1 MiB of memory
// (BENCHMARKS.md). Help does not list demo then.
const demoBuilt = false

func cmdDemo(context.Context, []string, io.Writer, io.Writer) error {
	return errors.New("demo: not built into this binary (packages leave it out to save memory); run it from the source tree: go run ./cmd/edgepub demo")
}
