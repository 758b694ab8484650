// Package statetest is the contract every sync.State implementation
// passes: run Run from the implementation's tests.
package statetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/sync"
)

// Run checks the State contract on states newState returns; each call
// must return a new, empty state.
func Run(t *testing.T, newState func(t *testing.T) sync.State) {
	t.Run("SaveLoadCompareAndSwap", func(t *testing.T) { saveLoad(t, newState(t)) })
	t.Run("RecordsOnTopOfSnapshot", func(t *testing.T) { records(t, newState(t)) })
	t.Run("EveryPartRoundTrips", func(t *testing.T) { parts(t, newState(t)) })
	t.Run("MirrorsRoundTrip", func(t *testing.T) { mirrors(t, newState(t)) })
	t.Run("CachedDirectoryFollowsSaves", func(t *testing.T) { directories(t, newState(t)) })
}

// directories: a cached directory is read back as saved, attribute types
// included, stays across saves that do not change it, follows one that
// replaces it, is kept with its cursor, and goes once removed.
func directories(t *testing.T, st sync.State) {
	ctx := context.Background()
	save := func(s *sync.Snapshot) *sync.Snapshot {
		t.Helper()
		s.Serial++
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := st.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	check := func(got *sync.Snapshot, name string, want *source.Directory, cursor string) {
		t.Helper()
		c := got.Directories[name]
		d, err := c.Directory()
		switch {
		case err != nil:
			t.Fatalf("directory of %s: %v", name, err)
		case want == nil && c != nil:
			t.Fatalf("directory of %s read back as %+v, want none", name, d)
		case want == nil:
		case d == nil:
			t.Fatalf("directory of %s not read back", name)
		case !reflect.DeepEqual(normal(d), normal(want)):
			t.Fatalf("directory of %s read back as\n%+v\nwant\n%+v", name, d, want)
		}
		if got.Cursors[name] != cursor {
			t.Fatalf("cursor of %s = %q, want %q", name, got.Cursors[name], cursor)
		}
	}
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := sourcetest.AttributeDirectory(3, "one"), sourcetest.AttributeDirectory(4, "two")
	s.Directories = map[string]*sync.CachedDirectory{"entra": {Dir: d1}, "okta": {Dir: sourcetest.AttributeDirectory(1, "okta")}}
	s.Cursors["entra"], s.Cursors["okta"] = "c1", "k1"
	got := save(s)
	check(got, "entra", d1, "c1")
	check(got, "okta", sourcetest.AttributeDirectory(1, "okta"), "k1")

	got.Users["x"] = sync.Link{TargetID: "tx", Origin: sync.OriginCreated}
	got.Cursors["entra"] = "c2" // a cursor moves with no change to the directory
	got = save(got)
	check(got, "entra", d1, "c2")

	got.Directories["entra"] = &sync.CachedDirectory{Dir: d2}
	got.Cursors["entra"] = "c3"
	got = save(got)
	check(got, "entra", d2, "c3")
	check(got, "okta", sourcetest.AttributeDirectory(1, "okta"), "k1")

	delete(got.Directories, "okta")
	delete(got.Cursors, "okta")
	got = save(got)
	check(got, "okta", nil, "")
	check(got, "entra", d2, "c3")
}

// normal returns d with times in UTC, so that directories compare by
// instant, as time.Time.Equal does.
func normal(d *source.Directory) *source.Directory {
	c := d.Clone()
	for i := range c.Users {
		u := &c.Users[i]
		u.DeletedAt = u.DeletedAt.UTC()
		for k, v := range u.Attributes.All() {
			if tm, ok := v.(time.Time); ok {
				u.Attributes = u.Attributes.With(k, tm.UTC())
			}
		}
	}
	return c
}

func mirrors(t *testing.T, st sync.State) {
	ctx := context.Background()
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	user := &sync.Mirror{User: []byte(`{"userName":"a@x","active":false,"emails":[{"value":"a@x","primary":true}]}`)}
	group := &sync.Mirror{DisplayName: "Eng", ExternalID: "g", Members: "t-1\nt-2"}
	s.Serial++
	s.Users["u"] = sync.Link{TargetID: "t-1", Origin: sync.OriginCreated, Mirror: user}
	s.Users["v"] = sync.Link{TargetID: "t-2", Origin: sync.OriginCreated} // unknown
	s.Groups["g"] = sync.Link{TargetID: "tg", Origin: sync.OriginCreated, Mirror: group}
	s.LastDriftCheck, s.TargetGroups = at, []string{"Hand-made", "Other"}
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Users["u"].Mirror.Equal(user) || got.Users["v"].Mirror != nil || !got.Groups["g"].Mirror.Equal(group) {
		t.Fatalf("mirrors read back as %+v, %+v, %+v", got.Users["u"].Mirror, got.Users["v"].Mirror, got.Groups["g"].Mirror)
	}
	if !got.LastDriftCheck.Equal(at) || len(got.TargetGroups) != 2 || got.TargetGroups[1] != "Other" {
		t.Fatalf("drift check read back as %v, %v", got.LastDriftCheck, got.TargetGroups)
	}
	// A mirror record sets one mirror, or makes it unknown; one for a
	// link that does not exist changes nothing.
	moved := &sync.Mirror{DisplayName: "Eng", ExternalID: "g", Members: "t-2"}
	if err := st.Record(ctx,
		sync.Record{Op: sync.OpMirror, Kind: sync.KindUser, SourceID: "u"},
		sync.Record{Op: sync.OpMirror, Kind: sync.KindUser, SourceID: "v", Mirror: user},
		sync.Record{Op: sync.OpMirror, Kind: sync.KindGroup, SourceID: "g", Mirror: moved},
		sync.Record{Op: sync.OpMirror, Kind: sync.KindUser, SourceID: "nobody", Mirror: user},
	); err != nil {
		t.Fatal(err)
	}
	if got, err = st.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Users["u"].Mirror != nil || !got.Users["v"].Mirror.Equal(user) || !got.Groups["g"].Mirror.Equal(moved) || len(got.Users) != 2 {
		t.Fatalf("after mirror records: %+v", got.Users)
	}
	// The next Save keeps them, and a cleared drift check is saved too.
	got.Serial++
	got.LastDriftCheck, got.TargetGroups = time.Time{}, nil
	if err := st.Save(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got, err = st.Load(ctx); err != nil || got.Users["u"].Mirror != nil || !got.Groups["g"].Mirror.Equal(moved) ||
		!got.LastDriftCheck.IsZero() || len(got.TargetGroups) != 0 {
		t.Fatalf("Load after Save = %+v, %v", got, err)
	}
}

func saveLoad(t *testing.T, st sync.State) {
	ctx := context.Background()
	s, err := st.Load(ctx)
	if err != nil || len(s.Users) != 0 || len(s.Groups) != 0 || s.Serial != 0 {
		t.Fatalf("first Load = %+v, %v; want an empty snapshot", s, err)
	}
	// A save that skips a serial is refused.
	s.Serial = 2
	if err := st.Save(ctx, s); !errors.Is(err, sync.ErrStaleState) {
		t.Fatalf("Save of serial 2 over serial 0 = %v, want ErrStaleState", err)
	}
	s.Users["src-1"] = sync.Link{TargetID: "t-1", Origin: sync.OriginCreated}
	s.Groups["g-1"] = sync.Link{TargetID: "tg-1", Origin: sync.OriginAdopted}
	s.Cursors["entra"] = "delta-token"
	s.Serial = 1
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Users["src-2"] = sync.Link{TargetID: "t-2"} // the saved copy must not change
	if err := st.Save(ctx, s); !errors.Is(err, sync.ErrStaleState) {
		t.Fatalf("second Save of serial 1 = %v, want ErrStaleState", err)
	}
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != 1 || len(got.Users) != 1 || got.Users["src-1"].TargetID != "t-1" ||
		got.Groups["g-1"].Origin != sync.OriginAdopted || got.Cursors["entra"] != "delta-token" {
		t.Errorf("Load after Save = %+v", got)
	}
	// Removals are saved too.
	delete(got.Users, "src-1")
	delete(got.Cursors, "entra")
	got.Serial++
	if err := st.Save(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got, err = st.Load(ctx); err != nil || got.Serial != 2 || len(got.Users) != 0 || len(got.Cursors) != 0 || len(got.Groups) != 1 {
		t.Errorf("Load after removals = %+v, %v", got, err)
	}
}

func records(t *testing.T, st sync.State) {
	ctx := context.Background()
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Serial++
	s.Groups["g-1"] = sync.Link{TargetID: "tg-1", Origin: sync.OriginAdopted}
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	in := sync.Intent{Kind: sync.KindUser, SourceID: "src-3", Key: "c@x", ExternalID: "src-3"}
	in5 := sync.Intent{Kind: sync.KindUser, SourceID: "src-5", Key: "e@x"}
	if err := st.Record(ctx,
		sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: "src-4", Link: &sync.Link{TargetID: "t-4", Origin: sync.OriginCreated}},
		sync.Record{Op: sync.OpUnlink, Kind: sync.KindGroup, SourceID: "g-1"},
		sync.Record{Op: sync.OpIntent, Kind: sync.KindUser, SourceID: "src-3", Intent: &in},
		sync.Record{Op: sync.OpIntent, Kind: sync.KindUser, SourceID: "src-5", Intent: &in5},
	); err != nil {
		t.Fatal(err)
	}
	// A link settles its intent; a settle drops one.
	if err := st.Record(ctx,
		sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: "src-3", Link: &sync.Link{TargetID: "t-3", Origin: sync.OriginCreated}},
		sync.Record{Op: sync.OpSettle, Kind: sync.KindUser, SourceID: "src-5"},
	); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Users["src-4"].TargetID != "t-4" || got.Users["src-3"].TargetID != "t-3" || len(got.Groups) != 0 || len(got.Intents) != 0 {
		t.Fatalf("Load after Record = %+v", got)
	}
	in6 := sync.Intent{Kind: sync.KindGroup, SourceID: "g-6", Key: "Six"}
	if err := st.Record(ctx, sync.Record{Op: sync.OpIntent, Kind: sync.KindGroup, SourceID: "g-6", Intent: &in6}); err != nil {
		t.Fatal(err)
	}
	if got, err = st.Load(ctx); err != nil || got.Intents["group:g-6"].Key != "Six" {
		t.Fatalf("Load after an intent = %+v, %v", got, err)
	}
	// The next Save replaces what the records did.
	got.Serial++
	delete(got.Users, "src-4")
	delete(got.Intents, "group:g-6")
	if err := st.Save(ctx, got); err != nil {
		t.Fatalf("Save of the loaded serial+1 = %v", err)
	}
	if got, err = st.Load(ctx); err != nil || len(got.Users) != 1 || len(got.Intents) != 0 {
		t.Fatalf("Load after Save = %+v, %v", got, err)
	}
}

func parts(t *testing.T, st sync.State) {
	ctx := context.Background()
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	s.Serial++
	s.Users["u"] = sync.Link{TargetID: "tu", Origin: sync.OriginCreated, Since: at, DeactivatedAt: at.Add(time.Hour), Source: "entra"}
	s.Groups["g"] = sync.Link{TargetID: "tg", Origin: sync.OriginAdopted, Since: at, Source: "google:example.com"}
	s.Intents = map[string]sync.Intent{"user:v": {Kind: sync.KindUser, SourceID: "v", Key: "v@x", Since: at, Source: "entra"}}
	s.Cursors["google"] = "cursor-1"
	s.Directories = map[string]*sync.CachedDirectory{"entra": {Dir: &source.Directory{
		Users:  []source.User{{ID: "u", UserName: "u@example.com", State: source.StateActive}},
		Groups: []source.Group{{ID: "g", DisplayName: "G", Members: []string{"u"}}}}}}
	s.Approvals = map[string]*sync.Approval{"a1": {ID: "a1", Status: sync.ApprovalPending, FirstSeen: at,
		Change: sync.Change{Action: sync.ActionDeleteUser, Object: sync.Ref{Kind: sync.KindUser, SourceID: "u", TargetID: "tu"}}}}
	s.Escrow = map[string]sync.EscrowEntry{"e1": {Action: sync.ActionCreateUser, Digest: "d", Attempts: 3, LastError: "boom", LastAttempt: at}}
	s.Conflicts = map[string]sync.Conflict{"user:hire": {Kind: sync.KindUser, SourceID: "hire", Key: "hire@example.com", TargetID: "th",
		TargetKey: "HIRE@example.com", Foreign: "hr-eu", Message: "another engine's", Since: at}}
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := got.Users["u"]
	if !u.Since.Equal(at) || !u.DeactivatedAt.Equal(at.Add(time.Hour)) || u.Source != "entra" || got.Cursors["google"] != "cursor-1" {
		t.Errorf("link and cursor read back as %+v, %v", u, got.Cursors)
	}
	if g := got.Groups["g"]; g.Source != "google:example.com" || g.Origin != sync.OriginAdopted {
		t.Errorf("group link read back as %+v", g)
	}
	if in := got.Intents["user:v"]; in.Source != "entra" || in.Key != "v@x" {
		t.Errorf("intent read back as %+v", in)
	}
	if d, err := got.Directories["entra"].Directory(); err != nil || d == nil || len(d.Users) != 1 || d.Users[0].UserName != "u@example.com" ||
		len(d.Groups) != 1 || d.Groups[0].Members[0] != "u" {
		t.Errorf("cached directory read back as %+v", d)
	}
	if a := got.Approvals["a1"]; a == nil || a.Status != sync.ApprovalPending || a.Change.Object.TargetID != "tu" || !a.FirstSeen.Equal(at) {
		t.Errorf("approval read back as %+v", a)
	}
	if e := got.Escrow["e1"]; e.Attempts != 3 || e.LastError != "boom" || !e.LastAttempt.Equal(at) {
		t.Errorf("escrow read back as %+v", e)
	}
	if c := got.Conflicts["user:hire"]; c.TargetID != "th" || c.Key != "hire@example.com" || c.SourceID != "hire" || c.Foreign != "hr-eu" || !c.Since.Equal(at) {
		t.Errorf("conflict read back as %+v", c)
	}
	// A change to one part, and the removal of another, are saved.
	got.Serial++
	got.Escrow["e1"] = sync.EscrowEntry{Action: sync.ActionCreateUser, Digest: "d", Attempts: 4}
	got.Approvals = nil
	got.Conflicts = map[string]sync.Conflict{"user:hire": {Kind: sync.KindUser, SourceID: "hire", Key: "hire@example.com", TargetID: "th2",
		Policy: true, Message: "adoption is off", Since: at}}
	// A link whose owner changes (a takeover) is saved too.
	l := got.Users["u"]
	l.Source = "google:example.com"
	got.Users["u"] = l
	if err := st.Save(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got, err = st.Load(ctx); err != nil || got.Escrow["e1"].Attempts != 4 || len(got.Approvals) != 0 || len(got.Directories) != 1 ||
		got.Users["u"].Source != "google:example.com" || got.Conflicts["user:hire"].TargetID != "th2" || !got.Conflicts["user:hire"].Policy {
		t.Errorf("Load after changing parts = %+v, %v", got, err)
	}
}
