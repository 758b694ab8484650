package mapping_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source/synth"
)

// TestMapStreamingHandsOverEachUser: a StreamingMapper hands every user
// MapReleasing maps to Take, in order, as it maps it, leaves the users
// Take takes out of Desired.Users, and returns what MapReleasing returns
// otherwise; the room it first makes is Stream.Room.
func TestMapStreamingHandsOverEachUser(t *testing.T) {
	rm, err := benchRules().Compile()
	if err != nil {
		t.Fatal(err)
	}
	ent := mapping.Entitlements{Groups: []string{"Contractors"}}
	for _, tt := range []struct {
		name string
		m    mapping.StreamingMapper
	}{
		{"default mapping", mapping.Default()},
		{"rules", rm},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := synth.Generate(synth.Config{Users: 300, Groups: 10, MembershipsPerUser: 2, Seed: 5, SuspendedFraction: 0.1})
			want, err := tt.m.MapReleasing(context.Background(), dir.Clone(), ent)
			if err != nil {
				t.Fatal(err)
			}
			var seen []mapping.DesiredUser
			const room = 7
			got, err := tt.m.MapStreaming(context.Background(), dir, ent, mapping.Stream{Room: room, Take: func(u *mapping.DesiredUser) bool {
				seen = append(seen, *u)
				return len(seen)%3 != 0 // every third user stays
			}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(seen, want.Users) {
				t.Fatalf("Take saw %d users, not the %d MapReleasing maps, in its order", len(seen), len(want.Users))
			}
			var kept []mapping.DesiredUser
			for i := 2; i < len(want.Users); i += 3 {
				kept = append(kept, want.Users[i])
			}
			if !reflect.DeepEqual(got.Users, kept) {
				t.Errorf("Desired.Users holds %d users, want the %d not taken", len(got.Users), len(kept))
			}
			if len(kept) <= room {
				t.Fatalf("the test keeps %d users, too few to test the room of %d", len(kept), room)
			}
			got.Users, want.Users = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("MapStreaming's Desired differs from MapReleasing's beyond its users:\n%+v\n%+v", got, want)
			}
			d, err := tt.m.MapStreaming(context.Background(), synth.Generate(synth.Config{Users: 300, Groups: 10, Seed: 5}), ent,
				mapping.Stream{Room: room, Take: func(*mapping.DesiredUser) bool { return true }})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Users) != 0 || cap(d.Users) != room {
				t.Errorf("every user taken: %d left in room for %d, want none in %d", len(d.Users), cap(d.Users), room)
			}
			all, err := tt.m.MapStreaming(context.Background(), synth.Generate(synth.Config{Users: 300, Groups: 10, Seed: 5}), ent, mapping.Stream{})
			if err != nil {
				t.Fatal(err)
			}
			if len(all.Users) == 0 || cap(all.Users) != 300 {
				t.Errorf("no Take: %d users in room for %d, want every user in room for 300", len(all.Users), cap(all.Users))
			}
		})
	}
}
