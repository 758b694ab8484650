package pgstate

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/pgstate/pgtest"
)

func benchState(b *testing.B) *State {
	b.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.DB(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	st, err := Open(context.Background(), pool, "acme")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close(context.Background()) })
	return st
}

// BenchmarkRecord: one landed write recorded (a transaction with the
// leader check), as the engine records each write.
func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	st := benchState(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := strconv.Itoa(i)
		if err := st.Record(ctx, sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: id,
			Link: &sync.Link{TargetID: "t" + id, Origin: sync.OriginCreated}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckLeader: the check the engine makes before each write
// request it sends to the target.
func BenchmarkCheckLeader(b *testing.B) {
	ctx := context.Background()
	st := benchState(b)
	if _, err := st.Load(ctx); err != nil { // takes the lock
		b.Fatal(err)
	}
	for b.Loop() {
		if err := st.CheckLeader(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSave: a save of a 10,000-link state that changed one link,
// written as the difference ("one-change") or, when the State's knowledge
// of the rows is out of date, rewritten whole ("rewrite").
func BenchmarkSave(b *testing.B) {
	for _, rewrite := range []bool{false, true} {
		name := "one-change"
		if rewrite {
			name = "rewrite"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			st := benchState(b)
			s, err := st.Load(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for i := range 10000 {
				s.Users["u"+strconv.Itoa(i)] = sync.Link{TargetID: "t" + strconv.Itoa(i), Origin: sync.OriginCreated}
			}
			s.Serial++
			if err := st.Save(ctx, s); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				s.Serial++
				s.Users["u7"] = sync.Link{TargetID: "moved" + strconv.Itoa(i), Origin: sync.OriginCreated}
				if rewrite {
					st.mu.Lock()
					st.base = nil
					st.mu.Unlock()
				}
				if err := st.Save(ctx, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLogChangeDone: a cycle's change events written to the log as
// ChangeDone and CycleDone write them, by batch size: 1 (each event at
// once, as the file log writes), 10, DefaultLogBatch, and none, the
// queue written only at each cycle's end (a cycle of 1,000 changes here).
// Reports events per second.
func BenchmarkLogChangeDone(b *testing.B) {
	for _, batch := range []int{1, 10, DefaultLogBatch, DefaultLogPending} {
		name := "batch-" + strconv.Itoa(batch)
		if batch == DefaultLogPending {
			name = "cycle-end"
		}
		b.Run(name, func(b *testing.B) {
			pool, err := pgxpool.New(context.Background(), pgtest.DB(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			l, err := OpenLog(context.Background(), pool, "acme", WithLogBatch(batch))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l.Close(context.Background()) })
			ev := sync.ChangeEvent{Cycle: "c1", Kind: sync.KindUser, Action: sync.ActionCreateUser,
				Outcome: sync.StatusApplied, SourceID: "s1", TargetID: "t1", Name: "ada@example.com"}
			n := 0
			for b.Loop() {
				ev.Time = time.Now()
				l.ChangeDone(ev)
				if n++; n%1000 == 0 {
					l.CycleDone(sync.CycleReport{ID: "c1"})
				}
			}
			l.CycleDone(sync.CycleReport{ID: "c1"})
			if err := l.Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
