package pgstate

import (
	"context"
	"strconv"
	"testing"

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
