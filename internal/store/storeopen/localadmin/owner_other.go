//go:build !unix

package localadmin

import "io/fs"

// checkPrivate has nothing to check where files have no Unix owner and
// mode: the state directory's access control list protects the file there.
func checkPrivate(fs.FileInfo) error { return nil }
