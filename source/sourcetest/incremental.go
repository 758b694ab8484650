package sourcetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/provsync/provsync/source"
)

func testIncremental(t *testing.T, h Harness, cfg *config) {
	ctx := ctxFor(t)
	base := fixture(cfg, 50, 8, 3, 6)
	src := open(ctx, t, h, base)
	inc, ok := src.(source.Incremental)
	if !ok {
		t.Skipf("%s does not implement source.Incremental", src.Name())
	}

	// A read without a cursor is a full snapshot with a cursor.
	full, err := inc.ReadChanges(ctx, "")
	if err != nil {
		t.Fatalf("ReadChanges(\"\"): %v", err)
	}
	if full == nil || !full.Full || full.Cursor == "" {
		t.Fatalf("ReadChanges(\"\") = %+v; want a full snapshot with a cursor", summary(full))
	}
	if len(full.RemovedUsers) > 0 || len(full.RemovedGroups) > 0 {
		t.Errorf("a full snapshot lists removals: %d users, %d groups", len(full.RemovedUsers), len(full.RemovedGroups))
	}
	prev, err := source.Apply(nil, full)
	if err != nil {
		t.Fatalf("the full snapshot is not a valid directory: %v", err)
	}
	expectSame(t, "ReadChanges(\"\")", base, prev, cfg)

	t.Run("ExpiredCursor", func(t *testing.T) {
		ch, err := inc.ReadChanges(ctx, "sourcetest-unknown-cursor")
		switch {
		case err != nil:
			if ch != nil {
				t.Errorf("ReadChanges returned changes with its error %v", err)
			}
			if !errors.Is(err, source.ErrCursorExpired) && !errors.Is(err, source.ErrInvalid) {
				t.Errorf("ReadChanges of an unknown cursor: error %q matches neither ErrCursorExpired nor ErrInvalid", err)
			}
		case ch == nil || !ch.Full:
			t.Errorf("ReadChanges of an unknown cursor = %+v; want ErrCursorExpired or a full snapshot", summary(ch))
		default:
			got, err := source.Apply(nil, ch)
			if err != nil {
				t.Fatalf("the fallback snapshot is not a valid directory: %v", err)
			}
			expectSame(t, "the fallback full snapshot", base, got, cfg)
		}
	})

	t.Run("NoChange", func(t *testing.T) {
		ch, err := inc.ReadChanges(ctx, full.Cursor)
		if err != nil {
			t.Fatalf("ReadChanges(cursor): %v", err)
		}
		if ch == nil || !ch.Empty() || ch.Cursor == "" {
			t.Fatalf("ReadChanges with nothing changed = %+v; want no changes and a cursor", summary(ch))
		}
	})

	t.Run("Changes", func(t *testing.T) {
		next, exp := change(base)
		if err := h.Update(ctx, t, next.Clone()); errors.Is(err, ErrNotSupported) {
			t.Skip("the harness cannot change the provider's data")
		} else if err != nil {
			t.Fatalf("Harness.Update: %v", err)
		}
		ch, err := inc.ReadChanges(ctx, full.Cursor)
		if err != nil {
			t.Fatalf("ReadChanges(cursor): %v", err)
		}
		if ch == nil || ch.Full || ch.Cursor == "" {
			t.Fatalf("ReadChanges(cursor) = %+v; want changes (not a full snapshot) and a cursor", summary(ch))
		}
		checkIDs(t, "upserted users", userIDs(ch.Users), exp.users, exp.allowedUsers)
		checkIDs(t, "removed users", ch.RemovedUsers, exp.removedUsers, nil)
		checkIDs(t, "upserted groups", groupIDs(ch.Groups), exp.groups, exp.allowedGroups)
		checkIDs(t, "removed groups", ch.RemovedGroups, exp.removedGroups, nil)
		got, err := source.Apply(prev, ch)
		if err != nil {
			t.Fatalf("Apply(previous snapshot, changes): %v", err)
		}
		expectSame(t, "the previous snapshot with the changes applied", next, got, cfg)

		// A read now is the new state, and nothing changed since.
		expectSame(t, "Read after the changes", next, mustRead(ctx, t, src), cfg)
		again, err := inc.ReadChanges(ctx, ch.Cursor)
		if err != nil {
			t.Fatalf("ReadChanges(new cursor): %v", err)
		}
		if again == nil || !again.Empty() {
			t.Fatalf("ReadChanges(new cursor) with nothing changed = %+v; want no changes", summary(again))
		}
	})
}

type changeSummary struct {
	Users, Groups, RemovedUsers, RemovedGroups int
	Full                                       bool
	Cursor                                     bool
}

func summary(ch *source.Changes) *changeSummary {
	if ch == nil {
		return nil
	}
	return &changeSummary{len(ch.Users), len(ch.Groups), len(ch.RemovedUsers), len(ch.RemovedGroups), ch.Full, ch.Cursor != ""}
}

// checkIDs checks that got holds every required id, nothing but required
// and allowed ids, and each once.
func checkIDs(t *testing.T, what string, got, required, allowed []string) {
	t.Helper()
	for _, p := range idProblems(what, got, required, allowed) {
		t.Error(p)
	}
}

func idProblems(what string, got, required, allowed []string) []string {
	var out []string
	have := toSet(got)
	if len(have) != len(got) {
		out = append(out, fmt.Sprintf("%s list an id more than once: %q", what, got))
	}
	var missing, unexpected []string
	for _, id := range required {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	for _, id := range got {
		if !slices.Contains(required, id) && !slices.Contains(allowed, id) {
			unexpected = append(unexpected, id)
		}
	}
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("%s lack %d changed %s", what, len(missing), sample(missing)))
	}
	if len(unexpected) > 0 {
		out = append(out, fmt.Sprintf("%s include %d %s that did not change", what, len(unexpected), sample(unexpected)))
	}
	return out
}

func userIDs(us []source.User) []string {
	ids := make([]string, len(us))
	for i := range us {
		ids[i] = us[i].ID
	}
	return ids
}

func groupIDs(gs []source.Group) []string {
	ids := make([]string, len(gs))
	for i := range gs {
		ids[i] = gs[i].ID
	}
	return ids
}
