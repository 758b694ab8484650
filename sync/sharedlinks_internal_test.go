package sync

import (
	"encoding/json"
	"testing"
	"time"
)

// TestLentLinksAreCopiedBeforeWrites: a snapshot lent the state's link
// maps (Snapshot.lend, as FileState lends them to the engine) copies them
// before each of the engine's writes to its links, so the state's copy
// keeps what is stored: a plan that is never applied, or an apply that
// stops before its save, leaves it as the files hold it.
func TestLentLinksAreCopiedBeforeWrites(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := func() *Snapshot {
		s := NewSnapshot()
		s.Serial = 4
		s.Users["u1"] = Link{TargetID: "t1", Origin: OriginCreated, Source: "hr", Since: since,
			Mirror: &Mirror{User: json.RawMessage(`{"userName":"a@x"}`)}}
		s.Users["u2"] = Link{TargetID: "t2", Origin: OriginAdopted, Since: since} // no source: stored before links named theirs
		s.Groups["g1"] = Link{TargetID: "tg", Origin: OriginCreated, Source: "hr", Since: since,
			Mirror: &Mirror{DisplayName: "Eng", Members: "t1"}}
		return s
	}
	eng := &Engine{owner: "hr", now: func() time.Time { return since.Add(time.Hour) }}
	tests := []struct {
		name  string
		write func(t *testing.T, s *Snapshot)
		check func(s *Snapshot) bool // the write reached the lent snapshot
	}{
		{"link record", func(t *testing.T, s *Snapshot) {
			mustApply(t, s, Record{Op: OpLink, Kind: KindUser, SourceID: "u3", Link: &Link{TargetID: "t3", Origin: OriginCreated}})
		}, func(s *Snapshot) bool { return s.Users["u3"].TargetID == "t3" }},
		{"unlink record", func(t *testing.T, s *Snapshot) {
			mustApply(t, s, Record{Op: OpUnlink, Kind: KindGroup, SourceID: "g1"})
		}, func(s *Snapshot) bool { _, ok := s.Groups["g1"]; return !ok }},
		{"mirror record", func(t *testing.T, s *Snapshot) {
			mustApply(t, s, Record{Op: OpMirror, Kind: KindUser, SourceID: "u1"})
		}, func(s *Snapshot) bool { return s.Users["u1"].Mirror == nil }},
		{"legacy link claimed", func(_ *testing.T, s *Snapshot) { eng.claimLegacy(s) },
			func(s *Snapshot) bool { return s.Users["u2"].Source == "hr" }},
		{"grown for creates, then linked", func(t *testing.T, s *Snapshot) {
			s.growLinks(500, 0)
			mustApply(t, s, Record{Op: OpLink, Kind: KindGroup, SourceID: "g2", Link: &Link{TargetID: "tg2"}})
		}, func(s *Snapshot) bool { return s.Groups["g2"].TargetID == "tg2" }},
		{"deactivation clock", func(_ *testing.T, s *Snapshot) {
			a := &applier{e: eng, plan: &Plan{clocks: []string{"u1"}}}
			a.finalize(s, &Result{}, false)
		}, func(s *Snapshot) bool { return !s.Users["u1"].DeactivatedAt.IsZero() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := base()
			want := snapshotJSON(t, b)
			lent := b.lend()
			tt.write(t, lent)
			if !tt.check(lent) {
				t.Fatal("the write did not reach the lent snapshot")
			}
			if got := snapshotJSON(t, b); got != want {
				t.Errorf("the state's copy changed with the lent snapshot:\n got %s\nwant %s", got, want)
			}
			// The lent snapshot now has maps of its own: the state's
			// records change the state's copy alone.
			mustApply(t, b, Record{Op: OpLink, Kind: KindUser, SourceID: "u9", Link: &Link{TargetID: "t9"}})
			if _, ok := lent.Users["u9"]; ok {
				t.Error("a record applied to the state's copy reached the lent snapshot")
			}
		})
	}
}

// TestSharedSaveKeepsTheLinks: a save through saveShared keeps the saved
// snapshot's link maps as the state's copy, and the saved snapshot copies
// them before its next write.
func TestSharedSaveKeepsTheLinks(t *testing.T) {
	f := NewFileState(t.TempDir() + "/state.json")
	defer f.Close()
	s, err := f.loadShared(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, Record{Op: OpLink, Kind: KindUser, SourceID: "u1", Link: &Link{TargetID: "t1", Origin: OriginCreated}})
	s.Serial++
	if err := f.saveShared(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if !s.sharedLinks || f.base.sharedLinks {
		t.Fatalf("after a shared save: saved snapshot shares %v, state's copy shares %v; want true, false", s.sharedLinks, f.base.sharedLinks)
	}
	mustApply(t, s, Record{Op: OpUnlink, Kind: KindUser, SourceID: "u1"})
	got, err := f.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Users["u1"].TargetID != "t1" {
		t.Errorf("a write to the saved snapshot after its save reached the state: links %v", got.Users)
	}
}

func mustApply(t *testing.T, s *Snapshot, r Record) {
	t.Helper()
	if err := s.Apply(r); err != nil {
		t.Fatal(err)
	}
}

func snapshotJSON(t *testing.T, s *Snapshot) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
