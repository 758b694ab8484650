package source_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
)

// TestApplyInPlaceIsApplyShared: folding random batches of changes into
// a directory in place gives what ApplyShared gives for the same
// directory, and leaves the changes as they were.
func TestApplyInPlaceIsApplyShared(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			base := applyBinaryBase(seed%7 + 1)
			r := rand.New(rand.NewPCG(seed, 17))
			for round := range 3 {
				ch := randomChanges(r, round, base)
				before := cloneChanges(ch)
				// Both fold a copy (Clone leaves an empty list nil,
				// which ApplyShared keeps).
				want, err := source.ApplyShared(base.Clone(), ch)
				if err != nil {
					t.Fatalf("round %d: ApplyShared: %v", round, err)
				}
				got, err := source.ApplyInPlace(base.Clone(), ch)
				if err != nil {
					t.Fatalf("round %d: ApplyInPlace: %v", round, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d: ApplyInPlace gives\n%+v\nApplyShared\n%+v", round, got, want)
				}
				if !reflect.DeepEqual(ch, before) {
					t.Fatalf("round %d: ApplyInPlace changed the changes", round)
				}
				base = want
			}
		})
	}
}

// TestApplyInPlaceCopiesTheChanges: the objects a fold in place takes
// from the changes are copies, so the directory may be changed afterwards
// (a mapping releases its users' attributes) without touching them.
func TestApplyInPlaceCopiesTheChanges(t *testing.T) {
	dir := validDir()
	ch := &source.Changes{
		Users:  []source.User{{ID: "u-1", UserName: "ada@example.com", Emails: []source.Email{{Value: "ada@example.com", Primary: true}}}, {ID: "u-5", UserName: "five@example.com", Emails: []source.Email{{Value: "e@x"}}}},
		Groups: []source.Group{{ID: "g-1", DisplayName: "Eng", Members: []string{"u-1", "u-5"}}},
	}
	got, err := source.ApplyInPlace(dir, ch)
	if err != nil {
		t.Fatal(err)
	}
	got.Users[0].Emails[0].Value = "changed"
	got.Users[len(got.Users)-1].Emails[0].Value = "changed"
	got.Groups[0].Members[0] = "changed"
	if ch.Users[0].Emails[0].Value == "changed" || ch.Users[1].Emails[0].Value == "changed" || ch.Groups[0].Members[0] == "changed" {
		t.Fatal("the result of ApplyInPlace shares data with the changes")
	}
}

// allocatedByFold returns the bytes ApplyInPlace allocates to fold a
// batch of a few changes (a rename, a hire, a leaver and a group
// changed) into a synthetic directory of users users: as many users
// after as before.
func allocatedByFold(t *testing.T, users int) uint64 {
	t.Helper()
	dir := synth.Generate(synth.Config{Users: users, Groups: users / 20, MembershipsPerUser: 3, Seed: 2})
	ch := synth.FewChanges(dir)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	folded, err := source.ApplyInPlace(dir, ch)
	runtime.ReadMemStats(&after)
	if err != nil || len(folded.Users) != users {
		t.Fatalf("fold: %v, %d users", err, len(folded.Users))
	}
	return after.TotalAlloc - before.TotalAlloc
}

// TestApplyInPlaceAllocatesForTheChanges: a fold in place allocates for
// the changes and for Validate's check of the result, not a copy of the
// directory: from 2,000 to 4,000 users it allocates about 55 bytes more
// a user (at most 100 are allowed), where ApplyShared, with its copy of
// the users and its index of them by id, allocates about 260.
func TestApplyInPlaceAllocatesForTheChanges(t *testing.T) {
	small, large := allocatedByFold(t, 2000), allocatedByFold(t, 4000)
	perUser := (int64(large) - int64(small)) / 2000
	t.Logf("a fold of 4 changes allocates %d bytes (2,000 users), %d bytes (4,000 users): %d bytes a user", small, large, perUser)
	if perUser > 100 {
		t.Errorf("a fold of 4 changes allocates %d bytes more for each user of the directory; want at most 100", perUser)
	}
}
