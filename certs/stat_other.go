//go:build !unix

package certs

import "io/fs"

func fileIdentity(fs.FileInfo) string { return "" }

func fileOwner(fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }
