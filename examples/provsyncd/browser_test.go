package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/provsync/provsync/sync"
)

// chromium finds a Chromium to drive: $CHROMIUM, else chromium on the
// PATH. Without one the test fails under CI=true (.ci/run installs
// Debian's chromium) and is skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const how = "no chromium on the PATH (or in $CHROMIUM): install Debian's package (apt-get install chromium) to run the browser test"
	if os.Getenv("CI") == "true" {
		t.Fatal(how)
	}
	t.Skip(how)
	return ""
}

// browser starts a headless Chromium with a fresh profile for the test
// and returns a context of one tab in it, ended with the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 900),
	}
	// A bound on the whole conversation, not a timing assertion: a hung
	// browser fails the test instead of blocking the suite.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// TestBrowserApprove drives the status page in a real headless Chromium:
// it loads the page, logs in with the API token, approves a held group
// with its Approve button, runs a cycle with the page's button, and sees
// that cycle create the group. With PROVSYNCD_SCREENSHOT=file it saves a
// PNG of the page at the end (examples/provsyncd/status.png is one).
func TestBrowserApprove(t *testing.T) {
	ctx := browser(t)
	a, done := demoApp(t)
	c := serve(t, a, a.token)
	first := <-done
	if first.Outcome != sync.CycleSucceeded || first.PendingApprovals != 2 {
		t.Fatalf("first cycle %+v; want 2 group creations held", first)
	}
	held := pending(t, c)

	// click clicks sel and waits for the page it loads.
	click := func(sel string) error {
		_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel))))
		return err
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		if err != nil {
			t.Fatalf("counting %s: %v", sel, err)
		}
		return n
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(c.url+"/"), chromedp.WaitVisible(chromedp.CSS(`#login input[name="token"]`))); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	if state, n := text(`#state`), count(`#approvals button`); state != "idle" || n != 0 || count(`#approvals tr`) != 3 {
		t.Fatalf("before logging in: state %q, %d buttons in the approvals table; want idle, 2 held changes and no button", state, n)
	}

	// Log in, then approve the first held change.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`#login input[name="token"]`), a.token)); err != nil {
		t.Fatal(err)
	}
	if err := click(`#login button`); err != nil {
		t.Fatalf("logging in: %v", err)
	}
	if n := count(`#approvals form[action$="/approve"] button`); n != 2 {
		t.Fatalf("after logging in: %d Approve buttons, want 2", n)
	}
	before := text(`#approvals tr:nth-child(2) td:nth-child(2)`)
	if err := click(`#approvals form[action$="/approve"] button`); err != nil {
		t.Fatalf("approving: %v", err)
	}
	left := pending(t, c)
	if len(held) != 2 || len(left) != 1 {
		t.Fatalf("pending %v after approving one of %v in the page", left, held)
	}

	// The page's "Run a cycle now"; the cycle applies the approved change.
	if err := click(`form[action="/api/run"] button`); err != nil {
		t.Fatalf("running a cycle: %v", err)
	}
	second := <-done
	if second.Trigger != sync.TriggerManual || second.Outcome != sync.CycleSucceeded || second.Planned.CreateGroups != 1 ||
		second.Applied == 0 || second.PendingApprovals != 1 {
		t.Fatalf("cycle after approving in the page: %+v; want the approved group created and one still held", second)
	}
	groups, err := a.tgt.ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.DisplayName)
	}
	if !strings.Contains(before, "Engineering") && !strings.Contains(before, "Research") || len(names) != 1 || !strings.Contains(before, names[0]) {
		t.Fatalf("approved %q in the page; the target has groups %v", before, names)
	}

	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reloading the page: %v", err)
	}
	if pend, rows, cyc := text(`#pending`), count(`#approvals form[action$='/approve']`), text(`#cycles`); pend != "1" || rows != 1 ||
		!strings.Contains(cyc, second.ID) || !strings.Contains(cyc, "manual") {
		t.Fatalf("page after the cycle: pending %q, %d Approve buttons, cycles %q", pend, rows, cyc)
	}
	if path := os.Getenv("PROVSYNCD_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
