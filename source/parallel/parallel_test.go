package parallel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestRun(t *testing.T) {
	var ran, peak, cur atomic.Int32
	err := Run(context.Background(), 50, 3, func(ctx context.Context, i int) error {
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		ran.Add(1)
		cur.Add(-1)
		return nil
	})
	if err != nil || ran.Load() != 50 || peak.Load() > 3 {
		t.Fatalf("err %v, ran %d, peak %d", err, ran.Load(), peak.Load())
	}
	boom := errors.New("boom")
	ran.Store(0)
	err = Run(context.Background(), 100, 1, func(ctx context.Context, i int) error {
		ran.Add(1)
		if i == 3 {
			return boom
		}
		return ctx.Err()
	})
	if !errors.Is(err, boom) || ran.Load() != 4 {
		t.Fatalf("err %v after %d tasks; want boom after 4, and no task started after it", err, ran.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, 5, 2, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRunStopsAtTheFirstFailure(t *testing.T) {
	// Three at once: task 0 fails once tasks 1 and 2 are running, and
	// those two run until they are cancelled. No fourth task may start,
	// whatever the scheduling.
	boom := errors.New("boom")
	var started atomic.Int32
	running := make(chan struct{})
	err := Run(context.Background(), 100, 3, func(ctx context.Context, i int) error {
		started.Add(1)
		switch i {
		case 0:
			<-running
			<-running
			return boom
		case 1, 2:
			running <- struct{}{}
			<-ctx.Done() // hangs, and the test times out, if the failure does not cancel
			return ctx.Err()
		}
		return nil
	})
	if !errors.Is(err, boom) || started.Load() != 3 {
		t.Fatalf("err %v, %d tasks started; want boom, and 3", err, started.Load())
	}
}
