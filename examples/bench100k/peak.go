package main

import (
	"runtime/metrics"
	"time"
)

// liveWatch follows the live heap (the heap the last garbage collection
// found reachable) during one cycle: its peak is what the cycle holds at
// once, and the peak RSS is about twice that with the default GOGC. With
// a profile path it writes a heap profile each time the peak grows by a
// twentieth, so the last one written shows what was live near the peak
// (a heap profile lags the collections by up to two cycles).
type liveWatch struct {
	stop chan struct{}
	done chan int64 // the peak live heap in bytes
}

const liveMetric = "/gc/heap/live:bytes"

// watchLive starts following the live heap; profile, if not empty, is
// where heap profiles near the peak are written.
func watchLive(profile string) *liveWatch {
	w := &liveWatch{stop: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		sample := []metrics.Sample{{Name: liveMetric}}
		var peak, profiled uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value; v.Kind() == metrics.KindUint64 && v.Uint64() > peak {
				peak = v.Uint64()
				if profile != "" && peak > profiled+profiled/20 {
					profiled = peak
					_ = writeHeapProfileNoGC(profile)
				}
			}
			select {
			case <-w.stop:
				w.done <- int64(peak)
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// end stops w and returns the peak live heap in bytes.
func (w *liveWatch) end() int64 {
	close(w.stop)
	return <-w.done
}
