package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/sync"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestProgressLines: off a terminal, a long apply writes a line every 5
// seconds with the count, the rate and the time left, and its last; a
// short one writes nothing; a second apply starts its own count.
func TestProgressLines(t *testing.T) {
	type step struct {
		after  time.Duration // the clock moves this much before the update
		done   int
		total  int
		failed bool
	}
	// changes returns n updates of an apply of total, every d.
	changes := func(total int, d time.Duration, failedAt ...int) []step {
		var s []step
		for i := 1; i <= total; i++ {
			st := step{after: d, done: i, total: total}
			for _, f := range failedAt {
				st.failed = st.failed || f == i
			}
			s = append(s, st)
		}
		return s
	}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"short apply writes nothing", changes(3, time.Second), nil},
		{
			// 4 changes a second, Netskope's pace: 10,000 changes take 41m40s.
			"10,000 changes at 4 a second", changes(10000, 250*time.Millisecond)[:41],
			[]string{
				"applying: 21 of 10000 changes (0%), 4.0/s, about 41m35s left",
				"applying: 41 of 10000 changes (0%), 4.0/s, about 41m30s left",
			},
		},
		{
			"last line and failures", changes(12, time.Second, 2, 7),
			[]string{
				"applying: 6 of 12 changes (50%), 1 failed, 1.0/s, about 6s left",
				"applying: 11 of 12 changes (91%), 2 failed, 1.0/s, about 1s left",
				"applying: 12 of 12 changes (100%), 2 failed, 1.0/s, done in 11s",
			},
		},
		{
			"a second apply counts anew", append(changes(8, 2*time.Second), changes(4, time.Second)...),
			[]string{
				"applying: 4 of 8 changes (50%), 0.5/s, about 8s left",
				"applying: 7 of 8 changes (87%), 0.5/s, about 2s left",
				"applying: 8 of 8 changes (100%), 0.5/s, done in 14s",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			clk := &fakeClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
			p := NewProgress(&out, ProgressTerminal(false), ProgressClock(clk.now))
			for _, s := range tt.steps {
				clk.t = clk.t.Add(s.after)
				o := sync.Outcome{Status: sync.StatusApplied}
				if s.failed {
					o.Status = sync.StatusFailed
				}
				p.Update(sync.Progress{Done: s.done, Total: s.total, Outcome: o})
			}
			var got []string
			if s := strings.TrimSpace(out.String()); s != "" {
				got = strings.Split(s, "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestProgressBar: on a terminal, the bar shows the count, the rate and
// the time left, and ends with a newline.
func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, ProgressTerminal(true))
	for i := 1; i <= 5; i++ {
		p.Update(sync.Progress{Done: i, Total: 5, Outcome: sync.Outcome{Status: sync.StatusApplied}})
	}
	s := out.String()
	for _, want := range []string{"applying", "5/5", "changes/s", "\n"} {
		if !strings.Contains(s, want) {
			t.Fatalf("bar %q lacks %q", s, want)
		}
	}
}
