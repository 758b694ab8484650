package pgstate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/logtest"
	"github.com/provsync/provsync/sync/provlog"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// writeEvents writes events from..to-1 of logtest (one a minute from
// logtest.T0) to target's log.
func writeEvents(t *testing.T, pool *pgxpool.Pool, target string, from, to int) {
	t.Helper()
	l := openLog(t, pool, target)
	for i := from; i < to; i++ {
		l.ChangeDone(logtest.Event(i))
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// names returns the names of target's events, oldest first.
func names(t *testing.T, pool *pgxpool.Pool, target string) []string {
	t.Helper()
	got, err := openLog(t, pool, target).Query(context.Background(), provlog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return logtest.Names(got)
}

func eventNames(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, logtest.Event(i).Name)
	}
	return out
}

// TestLogPruneByAge: with a retention of an hour and a clock 12.5 minutes
// past an hour after the first event, Prune deletes exactly events 0-12,
// in statements of at most 5 rows, and keeps 13-29 and another target's
// log. A second Prune within the interval is not claimed; one after it
// deletes what has aged since.
func TestLogPruneByAge(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	writeEvents(t, pool, "acme", 0, logtest.Events)
	writeEvents(t, pool, "globex", 0, logtest.Events)
	clock := &fakeClock{logtest.T0.Add(time.Hour + 12*time.Minute + 30*time.Second)}
	l := openLog(t, pool, "acme", WithLogRetention(time.Hour), WithLogPruneBatch(5),
		WithLogPruneInterval(10*time.Minute), WithLogClock(clock.now))
	p, err := l.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Pruned{Claimed: true, Deleted: 13, Batches: 3}); p != want {
		t.Errorf("Prune = %+v, want %+v (batches of 5, 5 and 3)", p, want)
	}
	if got, want := names(t, pool, "acme"), eventNames(13, logtest.Events); !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if got := names(t, pool, "globex"); len(got) != logtest.Events {
		t.Errorf("another target's log lost events: %d left", len(got))
	}
	clock.t = clock.t.Add(9 * time.Minute)
	if p, err := l.Prune(ctx); err != nil || p.Claimed || p.Deleted != 0 {
		t.Errorf("Prune within the interval = %+v, %v; want not claimed", p, err)
	}
	clock.t = clock.t.Add(time.Minute)
	if p, err := l.Prune(ctx); err != nil || !p.Claimed || p.Deleted != 10 {
		t.Errorf("Prune after the interval = %+v, %v; want events 13-22 deleted", p, err)
	}
}

// TestLogPruneMaxRows: with no age limit and a bound of 10 rows, Prune
// keeps exactly the newest 10.
func TestLogPruneMaxRows(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	writeEvents(t, pool, "acme", 0, logtest.Events)
	l := openLog(t, pool, "acme", WithLogRetention(0), WithLogMaxRows(10), WithLogPruneBatch(7))
	p, err := l.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Pruned{Claimed: true, Deleted: 20, Batches: 3}); p != want {
		t.Errorf("Prune = %+v, want %+v", p, want)
	}
	if got, want := names(t, pool, "acme"), eventNames(logtest.Events-10, logtest.Events); !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
}

// TestLogPruneReplicasAtOnce: two replicas, each with its own pool,
// prune one target's log at the same moment: exactly one claims it, the
// old rows are gone once, and the rest are kept.
func TestLogPruneReplicasAtOnce(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	other, err := pgxpool.New(ctx, pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	writeEvents(t, pool, "acme", 0, logtest.Events)
	clock := &fakeClock{logtest.T0.Add(time.Hour + 20*time.Minute)}
	opts := []LogOption{WithLogRetention(time.Hour), WithLogPruneBatch(3), WithLogClock(clock.now)}
	replicas := []*Log{openLog(t, pool, "acme", opts...), openLog(t, other, "acme", opts...)}
	start := make(chan struct{})
	results := make(chan Pruned, len(replicas))
	errs := make(chan error, len(replicas))
	for _, l := range replicas {
		go func() {
			<-start
			p, err := l.Prune(ctx)
			results <- p
			errs <- err
		}()
	}
	close(start)
	var claimed int
	var deleted int64
	for range replicas {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		p := <-results
		if p.Claimed {
			claimed++
		}
		deleted += p.Deleted
	}
	if claimed != 1 || deleted != 20 {
		t.Errorf("%d replicas claimed the pruning and deleted %d rows; want 1 and 20", claimed, deleted)
	}
	if got, want := names(t, pool, "acme"), eventNames(20, logtest.Events); !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
}

// TestLogCycleDonePrunes: CycleDone prunes with the default retention
// (90 days), and at most once per pruning interval.
func TestLogCycleDonePrunes(t *testing.T) {
	pool := newPool(t)
	writeEvents(t, pool, "acme", 0, 10)
	clock := &fakeClock{logtest.T0.Add(DefaultLogRetention + 5*time.Minute + time.Second)}
	l := openLog(t, pool, "acme", WithLogClock(clock.now))
	l.CycleDone(sync.CycleReport{})
	if got, want := names(t, pool, "acme"), eventNames(6, 10); !slices.Equal(got, want) {
		t.Fatalf("after the first cycle kept %v, want %v", got, want)
	}
	clock.t = clock.t.Add(DefaultLogPruneInterval - time.Second)
	l.CycleDone(sync.CycleReport{})
	if got := names(t, pool, "acme"); len(got) != 4 {
		t.Fatalf("a cycle within the interval pruned: kept %v", got)
	}
	clock.t = clock.t.Add(time.Second)
	l.CycleDone(sync.CycleReport{})
	if got := names(t, pool, "acme"); len(got) != 0 {
		t.Fatalf("a cycle after the interval kept %v, want none", got)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestLogCrashLosesLessThanABatch: a process that dies mid-cycle (its
// Log never flushed nor closed) has written every full batch of its
// events: it loses fewer than a batch. With a batch of 1 it loses none.
func TestLogCrashLosesLessThanABatch(t *testing.T) {
	tests := []struct {
		name         string
		opts         []LogOption
		events, want int
	}{
		{"batch of 10", []LogOption{WithLogBatch(10)}, 25, 20},
		{"default batch", nil, DefaultLogBatch*2 + DefaultLogBatch/2, DefaultLogBatch * 2},
		{"each event at once", []LogOption{WithLogBatch(1)}, 7, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := newPool(t)
			crashed, err := OpenLog(context.Background(), pool, "acme", tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.events {
				crashed.ChangeDone(logtest.Event(i % logtest.Events))
			}
			// The process dies here: no CycleDone, Flush or Close.
			if got := names(t, pool, "acme"); len(got) != tt.want {
				t.Errorf("%d of %d events written, want %d", len(got), tt.events, tt.want)
			}
		})
	}
}

// TestLogKilledProcess: a process that queued 25 change events with a
// batch of 10 is killed (SIGKILL) mid-cycle: the log holds the 20 of its
// full batches. The test runs itself as that process.
func TestLogKilledProcess(t *testing.T) {
	if dsn := os.Getenv("PGSTATE_KILLED_LOG_DSN"); dsn != "" {
		killedLogChild(dsn)
		return
	}
	pool := newPool(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLogKilledProcess$")
	cmd.Env = append(os.Environ(), "PGSTATE_KILLED_LOG_DSN="+pool.Config().ConnString())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "queued\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the child said %q, %v; want queued", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if got, want := names(t, pool, "acme"), eventNames(0, 20); !slices.Equal(got, want) {
		t.Errorf("after the kill the log holds %v, want %v", got, want)
	}
}

// killedLogChild queues 25 events to a Log with a batch of 10, says
// "queued", and waits to be killed.
func killedLogChild(dsn string) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	l, err := OpenLog(ctx, pool, "acme", WithLogBatch(10))
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	for i := range 25 {
		l.ChangeDone(logtest.Event(i))
	}
	if err := l.Err(); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	fmt.Println("queued")
	io.Copy(io.Discard, os.Stdin) // until killed
	os.Exit(3)
}
