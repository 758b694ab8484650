//go:build unix

package main

import (
	"runtime"
	"syscall"
	"time"
)

// rusage returns the CPU time (user and system) this process has used so
// far, and its peak resident memory in bytes.
func rusage() (cpu time.Duration, maxRSS int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	maxRSS = int64(ru.Maxrss)
	if runtime.GOOS != "darwin" && runtime.GOOS != "ios" {
		maxRSS *= 1024 // kilobytes elsewhere
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), maxRSS
}
