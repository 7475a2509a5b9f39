//go:build !unix

package certfile

import "io/fs"

func FileIdentity(fs.FileInfo) string { return "" }

func FileOwner(fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }
