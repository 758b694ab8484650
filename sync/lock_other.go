//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package sync

import "os"

// lockFile does nothing where flock is not available: FileState is then
// not protected against a second process.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }
