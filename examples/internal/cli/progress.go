package cli

import (
	"fmt"
	"io"
	"os"
	gosync "sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/provsync/provsync/sync"
)

// DefaultProgressEvery is how often a Progress that is not on a terminal
// writes a line.
const DefaultProgressEvery = 5 * time.Second

// Progress shows how far an apply has got: on a terminal a progress bar
// with the rate and the time left, elsewhere (a log file, journald) a
// line every few seconds. Its Update method is a sync.WithProgress (or
// sync.WithRunnerProgress) callback; one Progress serves successive
// applies, a new one starting whenever the count starts again.
type Progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	now   func() time.Time

	mu     gosync.Mutex
	bar    *progressbar.ProgressBar
	last   sync.Progress // the latest update of the current apply
	start  time.Time     // when the current apply's first change finished
	line   time.Time     // when the last line was written, or start
	lines  int           // lines written for the current apply
	failed int
}

// ProgressOption sets an option of NewProgress.
type ProgressOption func(*Progress)

// ProgressTerminal says whether the output is a terminal, instead of
// asking the operating system.
func ProgressTerminal(tty bool) ProgressOption { return func(p *Progress) { p.tty = tty } }

// ProgressEvery sets how often a line is written when the output is not
// a terminal. Default DefaultProgressEvery.
func ProgressEvery(d time.Duration) ProgressOption { return func(p *Progress) { p.every = d } }

// ProgressClock replaces the clock (time.Now) that paces the lines and
// measures the rate.
func ProgressClock(now func() time.Time) ProgressOption { return func(p *Progress) { p.now = now } }

// NewProgress returns a Progress writing to w: a bar when w is a
// terminal, else lines.
func NewProgress(w io.Writer, opts ...ProgressOption) *Progress {
	p := &Progress{w: w, tty: isTerminal(w), every: DefaultProgressEvery, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Update records one finished change.
func (p *Progress) Update(u sync.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if u.Done <= p.last.Done || u.Total != p.last.Total {
		// A new apply.
		p.finishBar()
		p.start, p.line, p.lines, p.failed = now, now, 0, 0
		if p.tty {
			p.bar = progressbar.NewOptions(u.Total, progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription("applying"), progressbar.OptionShowCount(),
				progressbar.OptionShowIts(), progressbar.OptionSetItsString("changes"),
				progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }))
		}
	}
	p.last = u
	if u.Outcome.Status == sync.StatusFailed {
		p.failed++
	}
	if p.bar != nil {
		_ = p.bar.Set(u.Done)
		if u.Done >= u.Total {
			p.finishBar()
		}
		return
	}
	// A short apply writes no line; a long one writes one every few
	// seconds and its last.
	if now.Sub(p.line) >= p.every || (u.Done >= u.Total && p.lines > 0) {
		fmt.Fprintln(p.w, p.lineOf(now))
		p.line = now
		p.lines++
	}
}

// finishBar ends the bar of the current apply, if any.
func (p *Progress) finishBar() {
	if p.bar != nil {
		_ = p.bar.Exit()
		p.bar = nil
	}
}

// lineOf describes the current apply at now: the count, the rate and,
// once a rate is known, the time left.
func (p *Progress) lineOf(now time.Time) string {
	u := p.last
	line := fmt.Sprintf("applying: %d of %d changes (%d%%)", u.Done, u.Total, 100*u.Done/max(u.Total, 1))
	if p.failed > 0 {
		line += fmt.Sprintf(", %d failed", p.failed)
	}
	// The rate counts from the first change's end, so the first is not in it.
	elapsed := now.Sub(p.start)
	if done := u.Done - 1; done > 0 && elapsed > 0 {
		rate := float64(done) / elapsed.Seconds()
		line += fmt.Sprintf(", %.1f/s", rate)
		if left := u.Total - u.Done; left > 0 {
			line += fmt.Sprintf(", about %s left", (time.Duration(float64(left) / rate * float64(time.Second))).Round(time.Second))
		} else {
			line += fmt.Sprintf(", done in %s", elapsed.Round(time.Second))
		}
	}
	return line
}
