package main

import (
	"context"
	"fmt"
	"io"

	"github.com/edgepub/edgepub/internal/buildinfo"
)

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", "Print version, commit, Go version and architecture.", stderr)
	if help, err := parseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	fmt.Fprintln(stdout, buildinfo.String())
	return nil
}
