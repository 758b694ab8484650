package merge_test

import (
	"context"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/merge"
	"github.com/provsync/provsync/source/synth"
)

// BenchmarkRead100k merges two sources of 50,000 users and 1,000 groups
// each, 10,000 people in both (as the second source's users, under its
// own ids), with merged groups. Run with
//
//	go test -run '^$' -bench Read100k -benchmem ./source/merge/
func BenchmarkRead100k(b *testing.B) {
	a := synth.Generate(synth.Config{Users: 50000, Groups: 1000, MembershipsPerUser: 3, Seed: 1})
	c := synth.Generate(synth.Config{Users: 50000, Groups: 1000, MembershipsPerUser: 3, Seed: 2, Domain: "contractor.example"})
	for i := range 10000 {
		c.Users[i].UserName, c.Users[i].Emails = a.Users[i].UserName, a.Users[i].Emails
	}
	m, err := merge.New([]merge.Member{{Name: "a", Source: file.FromDirectory(a)}, {Name: "c", Source: file.FromDirectory(c)}},
		merge.WithGroups(merge.GroupsMerge))
	if err != nil {
		b.Fatal(err)
	}
	var got *source.Directory
	b.ReportAllocs()
	for b.Loop() {
		if got, err = m.Read(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	if len(got.Users) != 90000 {
		b.Fatalf("%d users, want 90000", len(got.Users))
	}
}
