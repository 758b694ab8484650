package main

import (
	"fmt"
	"html"
	"io"
	"net/url"
	"strings"
)

// The status page is written by code, not by html/template: the
// template engine looks methods up by name at run time, which makes the
// linker keep every exported method of the program; with all three
// sources linked that doubled the stripped binary (35.6 to 68.6 MB).
// Every value goes through esc, and only into text or a double-quoted
// attribute, where HTML escaping is all that is needed.

// esc is v as HTML text or a double-quoted attribute value.
func esc(v any) string { return html.EscapeString(fmt.Sprint(v)) }

const pageHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>provsyncd: %s</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%%; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #ddd; vertical-align: top; }
.state { display: inline-block; padding: .1em .6em; border-radius: .3em; background: #e7f5e7; }
.state.quarantined { background: #fde2e1; } .state.running { background: #e3ecfd; }
.failed { color: #b00; } .held { color: #a60; }
.bar { background: #6b8fd6; height: .8em; min-width: 1px; }
form.inline { display: inline; }
button { cursor: pointer; }
.muted { color: #777; }
</style>
</head>
<body>
`

// render writes the status page of d.
func render(w io.Writer, d pageData) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	st := d.Status
	p(pageHead, esc(st.State))
	p(`<h1>provsyncd <span class="state %s" id="state">%s</span></h1>
<table>
<tr><th>Next cycle</th><td id="next-cycle">%s</td></tr>
<tr><th>Last success</th><td>%s</td></tr>
<tr><th>Cycles run</th><td>%d`, esc(st.State), esc(st.State), when(st.NextCycle), when(st.LastSuccess), st.Cycles)
	if st.SkippedTicks > 0 {
		p(" (%d ticks skipped)", st.SkippedTicks)
	}
	p(`</td></tr>
`)
	switch d.Role {
	case "leader":
		p(`<tr><th>Role</th><td id="role">leader: this replica holds the target's lock in the shared state</td></tr>
`)
	case "standby":
		p(`<tr><th>Role</th><td id="role">standby: another replica leads (approvals are decided on its page); this one takes over once the lock is free</td></tr>
`)
	}
	p(`<tr><th>Waiting for approval</th><td id="pending">%d</td></tr>
<tr><th>Failed changes in escrow</th><td id="escrow">%d</td></tr>
</table>
`, st.PendingApprovals, st.Escrow)
	if q := st.Quarantine; q != nil {
		p(`<p class="failed" id="quarantine">Quarantined since %s (%s, %d failed cycles in a row): %s. Next attempt %s.</p>
`, when(q.Since), esc(q.Reason), q.Failures, esc(q.Error), when(q.NextAttempt))
	}
	if h := st.Held; h != nil {
		p(`<p class="held" id="held">A plan waits for confirmation since %s`, when(h.Since))
		if h.AppliedRest {
			p(" (its changes that take nothing away were applied)")
		}
		p(":</p>\n<ul>")
		for _, r := range h.Reasons {
			p("<li>%s</li>", esc(r))
		}
		p("</ul>\n")
	}
	if d.Error != "" {
		p("<p class=\"failed\">%s</p>\n", esc(d.Error))
	}
	switch {
	case d.HasToken && d.LoggedIn:
		p(`<p>
<form class="inline" method="post" action="/api/run"><button>Run a cycle now</button></form>
<form class="inline" method="post" action="/api/retry-failed"><button>Retry failed changes</button></form>
<form class="inline" method="post" action="/api/restart"><button>Restart (clear quarantine and escrow)</button></form>
<form class="inline" method="post" action="/logout"><button>Log out</button></form>
</p>
`)
	case d.HasToken:
		p(`<form method="post" action="/login" id="login">
<label>API token <input type="password" name="token" autocomplete="current-password" required></label>
<button>Log in</button> <span class="muted">to approve changes and run cycles</span>
</form>
`)
	default:
		p("<p class=\"muted\">Read only: no API token is configured (listener.token).</p>\n")
	}

	p("\n<h2>Held for approval</h2>\n")
	if len(d.Approvals) == 0 {
		p("<p class=\"muted\">Nothing is held for approval.</p>\n")
	} else {
		p(`<table id="approvals">
<tr><th>Change</th><th>Object</th><th>Reason</th><th>Held since</th><th></th></tr>
`)
		for _, a := range d.Approvals {
			c := a.Change
			p("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>\n<td>", esc(c.Action), esc(c.Object), esc(c.Reason), when(a.FirstSeen))
			if d.LoggedIn {
				id := esc(url.PathEscape(a.ID))
				p(`<form class="inline" method="post" action="/api/approvals/%s/approve"><button>Approve</button></form>
<form class="inline" method="post" action="/api/approvals/%s/reject"><button>Reject</button></form>`, id, id)
			} else {
				p("<span class=\"muted\">%s</span>", esc(a.ID))
			}
			p("</td></tr>\n")
		}
		p("</table>\n<p class=\"muted\">An approved change is applied by the next cycle.</p>\n")
	}

	p("\n<h2>Persistent failures</h2>\n")
	if len(st.PersistentFailures) == 0 {
		p("<p class=\"muted\">None.</p>\n")
	} else {
		p("<table id=\"failures\">\n<tr><th>Change</th><th>Object</th><th>Attempts</th><th>Last error</th></tr>\n")
		for _, f := range st.PersistentFailures {
			p("<tr><td>%s</td><td>%s</td><td>%d</td><td class=\"failed\">%s</td></tr>\n", esc(f.Action), esc(f.Object), f.Attempts, esc(f.LastError))
		}
		p("</table>\n")
	}

	p("\n<h2>Recent cycles</h2>\n")
	if len(d.Cycles) == 0 {
		p("<p class=\"muted\">No cycle has finished yet.</p>\n")
	} else {
		p(`<table id="cycles">
<tr><th>Cycle</th><th>Trigger</th><th>Outcome</th><th>Planned</th><th>Applied</th><th>Failed</th><th>Skipped</th><th>Changes</th></tr>
`)
		for _, c := range d.Cycles {
			reason := ""
			if c.Reason != "" {
				reason = " (" + esc(c.Reason) + ")"
			}
			n := changes(c.Planned)
			p(`<tr><td>%s</td><td>%s</td><td class="%s">%s%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td>
<td style="width: 20%%"><div class="bar" style="width: %d%%"></div></td></tr>
`, esc(c.ID), esc(c.Trigger), esc(c.Outcome), esc(c.Outcome), reason, n, c.Applied, c.Failed, c.Skipped, percent(n, d.MaxChange))
		}
		p("</table>\n")
	}
	p(`<p class="muted">Rendered %s; the page reloads every 30 seconds. JSON: <a href="/api/status">/api/status</a>, <a href="/api/cycles">/api/cycles</a>, <a href="/api/plan">/api/plan</a>, <a href="/api/approvals">/api/approvals</a>.</p>
</body>
</html>
`, when(d.Now))
	_, err := io.WriteString(w, b.String())
	return err
}

// percent is n as a whole percentage of total, 0 for no total.
func percent(n, total int) int {
	if total == 0 {
		return 0
	}
	return 100 * n / total
}
