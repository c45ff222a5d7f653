//go:build unix

package localadmin

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivate refuses a file that others may read or write, or that
// another user owns: they could have read the token, or put a token and an
// endpoint of their choosing in it.
func checkPrivate(fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %#o lets others read or write it, so it is not used (local writes it 0600)", perm)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("owned by uid %d, not by this user (uid %d), so it is not used", st.Uid, uid)
	}
	return nil
}
