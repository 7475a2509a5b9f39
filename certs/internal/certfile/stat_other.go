//go:build !unix

package certfile

import (
	"io/fs"
	"os"
)

func FileIdentity(fs.FileInfo) string { return "" }

func FileOwner(fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }

func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
