package sourcetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/provsync/provsync/source"
)

// maxDiffs caps how many differences a failure lists.
const maxDiffs = 25

// diff lists how got differs from want, ignoring order: missing and
// unexpected objects, and for objects in both the fields cfg compares.
func diff(want, got *source.Directory, cfg *config) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	gotUsers := make(map[string]*source.User, len(got.Users))
	for i := range got.Users {
		gotUsers[got.Users[i].ID] = &got.Users[i]
	}
	wantUsers := make(map[string]bool, len(want.Users))
	for i := range want.Users {
		w := &want.Users[i]
		wantUsers[w.ID] = true
		g, ok := gotUsers[w.ID]
		if !ok {
			add("user %q (%s): missing", w.ID, w.UserName)
			continue
		}
		field := func(name string, wv, gv any) {
			if !valueEqual(wv, gv) {
				add("user %q: %s = %s, want %s", w.ID, name, show(gv), show(wv))
			}
		}
		field("userName", strings.ToLower(w.UserName), strings.ToLower(g.UserName))
		field("primary email", strings.ToLower(w.PrimaryEmail()), strings.ToLower(g.PrimaryEmail()))
		field("givenName", w.GivenName, g.GivenName)
		field("familyName", w.FamilyName, g.FamilyName)
		if !cfg.noDisplay {
			field("displayName", w.DisplayName, g.DisplayName)
		}
		field("state", w.State.String(), g.State.String())
		for _, name := range cfg.userAttrs {
			wv, _ := w.Attr(name)
			gv, _ := g.Attr(name)
			field(name, wv, gv)
		}
	}
	for i := range got.Users {
		if id := got.Users[i].ID; !wantUsers[id] {
			add("user %q (%s): not in scope, yet read", id, got.Users[i].UserName)
		}
	}

	gotGroups := make(map[string]*source.Group, len(got.Groups))
	for i := range got.Groups {
		gotGroups[got.Groups[i].ID] = &got.Groups[i]
	}
	wantGroups := make(map[string]bool, len(want.Groups))
	for i := range want.Groups {
		w := &want.Groups[i]
		wantGroups[w.ID] = true
		g, ok := gotGroups[w.ID]
		if !ok {
			add("group %q (%s): missing", w.ID, w.DisplayName)
			continue
		}
		if w.DisplayName != g.DisplayName {
			add("group %q: displayName = %q, want %q", w.ID, g.DisplayName, w.DisplayName)
		}
		if s := setDiff(w.Members, g.Members); s != "" {
			add("group %q (%s): members %s", w.ID, w.DisplayName, s)
		}
		if s := setDiff(w.MemberGroups, g.MemberGroups); s != "" {
			add("group %q (%s): memberGroups %s", w.ID, w.DisplayName, s)
		}
		for _, name := range cfg.groupAttrs {
			wv, _ := w.Attr(name)
			gv, _ := g.Attr(name)
			if !valueEqual(wv, gv) {
				add("group %q: %s = %s, want %s", w.ID, name, show(gv), show(wv))
			}
		}
	}
	for i := range got.Groups {
		if id := got.Groups[i].ID; !wantGroups[id] {
			add("group %q (%s): not in scope, yet read", id, got.Groups[i].DisplayName)
		}
	}
	return out
}

// setDiff describes how got differs from want as sets, "" if not at all.
func setDiff(want, got []string) string {
	w, g := toSet(want), toSet(got)
	var missing, extra []string
	for _, id := range want {
		if !g[id] {
			missing = append(missing, id)
		}
	}
	for _, id := range got {
		if !w[id] {
			extra = append(extra, id)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		if len(got) != len(g) {
			return fmt.Sprintf("list some ids more than once (%d entries, %d distinct)", len(got), len(g))
		}
		return ""
	}
	return fmt.Sprintf("lack %d %s and have %d unexpected %s", len(missing), sample(missing), len(extra), sample(extra))
}

func sample(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	if len(ids) > 3 {
		return fmt.Sprintf("%q...", ids[:3])
	}
	return fmt.Sprintf("%q", ids)
}

func toSet(ids []string) map[string]bool {
	s := make(map[string]bool, len(ids))
	for _, id := range ids {
		s[id] = true
	}
	return s
}

// valueEqual compares attribute values: times by instant, numbers by
// value whatever their type, lists ignoring order, nil as absent.
func valueEqual(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y
		case int64:
			return x == float64(y)
		}
		return false
	case []string:
		y, ok := b.([]string)
		if !ok {
			return false
		}
		xs, ys := slices.Clone(x), slices.Clone(y)
		slices.Sort(xs)
		slices.Sort(ys)
		return slices.Equal(xs, ys)
	}
	return reflect.DeepEqual(a, b)
}

func show(v any) string {
	if v == nil {
		return "(absent)"
	}
	if t, ok := v.(time.Time); ok {
		return t.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%#v", v)
}

func formatDiff(d []string) string {
	if len(d) > maxDiffs {
		d = append(d[:maxDiffs:maxDiffs], fmt.Sprintf("... and %d more", len(d)-maxDiffs))
	}
	return "  " + strings.Join(d, "\n  ")
}
