package pgstate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/logtest"
	"github.com/provsync/provsync/sync/provlog"
)

func openLog(t *testing.T, pool *pgxpool.Pool, target string, opts ...LogOption) *Log {
	t.Helper()
	l, err := OpenLog(context.Background(), pool, target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

// TestLogFilters: two replicas' Logs write the events of one target in
// turns; each answers the filter cases of provlog's file log with all of
// them, in the order written. Another target's log, holding the same
// events in reverse, does not mix in.
func TestLogFilters(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	replicas := []*Log{openLog(t, pool, "acme"), openLog(t, pool, "acme")}
	other := openLog(t, pool, "globex")
	for i := range logtest.Events {
		l := replicas[i%2]
		l.ChangeDone(logtest.Event(i))
		l.CycleDone(sync.CycleReport{ID: "c"})
		other.ChangeDone(logtest.Event(logtest.Events - 1 - i))
	}
	if err := other.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range logtest.Cases() {
		t.Run(tt.Name, func(t *testing.T) {
			for r, l := range replicas {
				got, err := l.Query(ctx, tt.Filter)
				if err != nil {
					t.Fatal(err)
				}
				if want := tt.Names(); !slices.Equal(logtest.Names(got), want) {
					t.Errorf("replica %d: got %v, want %v", r, logtest.Names(got), want)
				}
			}
			got, err := other.Query(ctx, tt.Filter)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.Names()
			slices.Reverse(want)
			if !slices.Equal(logtest.Names(got), want) {
				t.Errorf("the other target: got %v, want %v", logtest.Names(got), want)
			}
		})
	}
}

// TestLogRedactsSecrets: WithLogValues keeps values, but a credential's
// value is neither in the query's answer nor in the stored row.
func TestLogRedactsSecrets(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	ev := logtest.Event(1)
	ev.Changes = []sync.AttrChange{{Path: "title", Before: "Engineer", After: "Manager"},
		{Path: "password", After: "hunter2-secret-value"}}
	tests := []struct {
		name       string
		opts       []LogOption
		want, deny []string
	}{
		{"no values by default", nil, []string{`"title"`}, []string{"Manager", "hunter2", `"values"`}},
		{"values, credentials redacted", []LogOption{WithLogValues()}, []string{"Manager", provlog.Redacted}, []string{"hunter2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "acme-" + strings.ReplaceAll(tt.name, " ", "-")
			l := openLog(t, pool, target, tt.opts...)
			l.ChangeDone(ev)
			l.CycleDone(sync.CycleReport{})
			var row string
			if err := pool.QueryRow(ctx, "SELECT event::text FROM provsync_log WHERE target = $1", target).Scan(&row); err != nil {
				t.Fatal(err)
			}
			got, err := l.Query(ctx, provlog.Filter{})
			if err != nil || len(got) != 1 {
				t.Fatalf("query: %v %v, want one event", got, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(row, w) {
					t.Errorf("the row lacks %q: %s", w, row)
				}
			}
			for _, d := range tt.deny {
				if strings.Contains(row, d) {
					t.Errorf("the row holds %q: %s", d, row)
				}
			}
		})
	}
}

// TestLogWriteFailure: while the table cannot be written, a cycle's
// events stay queued and Err says so; the next write puts them in, once
// and in order, and clears Err. Calls after Close fail with ErrClosed.
func TestLogWriteFailure(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	l := openLog(t, pool, "acme")
	l.ChangeDone(logtest.Event(0))
	l.CycleDone(sync.CycleReport{})
	if _, err := pool.Exec(ctx, "ALTER TABLE provsync_log RENAME TO provsync_log_away"); err != nil {
		t.Fatal(err)
	}
	l.ChangeDone(logtest.Event(1))
	l.CycleDone(sync.CycleReport{})
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "1 events not written") {
		t.Fatalf("Err = %v, want the write's error", err)
	}
	if err := l.Call(logtest.T0, provlog.APICall{Call: "run"}, provlog.OutcomeAccepted, nil); err == nil {
		t.Fatal("Call wrote to a missing table")
	}
	if _, err := pool.Exec(ctx, "ALTER TABLE provsync_log_away RENAME TO provsync_log"); err != nil {
		t.Fatal(err)
	}
	l.ChangeDone(logtest.Event(2))
	l.CycleDone(sync.CycleReport{})
	if err := l.Err(); err != nil {
		t.Fatalf("Err after a good write = %v", err)
	}
	got, err := l.Query(ctx, provlog.Filter{})
	want := []string{logtest.Event(0).Name, logtest.Event(1).Name, "", logtest.Event(2).Name}
	if err != nil || !slices.Equal(logtest.Names(got), want) || got[2].API == nil || got[2].API.Call != "run" {
		t.Fatalf("events %v %v, want %v with the call third", logtest.Names(got), err, want)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Call(time.Now(), provlog.APICall{Call: "run"}, provlog.OutcomeAccepted, nil); !errors.Is(err, provlog.ErrClosed) {
		t.Fatalf("Call after Close = %v, want ErrClosed", err)
	}
}

// TestLogReplicasOneHistory: replica A's Runner provisions a directory
// and its process ends; replica B takes over and applies a day's
// changes. A's Log (read from another process) shows both, A's creates
// first, each change once.
func TestLogReplicasOneHistory(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	_, client := newServer(t)
	dir := synth.Generate(synth.Config{Users: 20, Groups: 3, MembershipsPerUser: 1, Seed: 5})
	src := static{dir.Clone()}
	logs := []*Log{openLog(t, pool, "acme"), openLog(t, pool, "acme")}
	var reports []sync.CycleReport
	for i, l := range logs {
		st := open(t, pool, "acme")
		eng, err := sync.New(src, client, sync.WithState(st), sync.WithTargetName("acme"))
		if err != nil {
			t.Fatal(err)
		}
		done := make(cycles, 1)
		r, err := sync.NewRunner(eng, sync.WithObserver(l), sync.WithObserver(done))
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		stopped := make(chan error, 1)
		go func() { stopped <- r.Run(rctx) }()
		rep := <-done
		cancel()
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if err := st.Close(ctx); err != nil { // the replica ends
			t.Fatal(err)
		}
		if rep.Applied == 0 {
			t.Fatalf("replica %d applied nothing: %+v", i, rep)
		}
		reports = append(reports, rep)
		*src.dir = *changed(dir)
	}
	got, err := logs[0].Query(ctx, provlog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	applied := map[string]int{}
	var cycles []string
	seen := map[string]string{}
	for _, e := range got {
		if e.Outcome == sync.StatusApplied {
			applied[e.Cycle]++
		}
		if len(cycles) == 0 || cycles[len(cycles)-1] != e.Cycle {
			cycles = append(cycles, e.Cycle)
		}
		key := e.Cycle + " " + string(e.Action) + " " + e.SourceID + " " + e.TargetID
		if seen[key] != "" {
			t.Errorf("%s written twice", key)
		}
		seen[key] = key
	}
	if want := []string{reports[0].ID, reports[1].ID}; !slices.Equal(cycles, want) {
		t.Fatalf("the history's cycles %v, want A's then B's %v", cycles, want)
	}
	for _, rep := range reports {
		if applied[rep.ID] != rep.Applied {
			t.Errorf("cycle %s: %d applied events, its report says %d", rep.ID, applied[rep.ID], rep.Applied)
		}
	}
	if creates, err := logs[1].Query(ctx, provlog.Filter{Action: sync.ActionCreateUser}); err != nil || len(creates) != len(dir.Users) {
		t.Fatalf("B reads %d creates (%v), want A's %d", len(creates), err, len(dir.Users))
	}
}
