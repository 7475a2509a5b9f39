//go:build !unix

package certs

import (
	"io/fs"
	"os"
)

func fileIdentity(fs.FileInfo) string { return "" }

func fileOwner(fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }

func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
