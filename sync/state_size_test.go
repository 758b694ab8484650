package sync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source/synth"
)

// BenchmarkStateLoadedSize reports what a FileState of 20,000 users and
// 1,000 groups (10 memberships a user, every link with its mirror, as an
// initial sync leaves it) holds in memory once loaded, and its file, per
// user:
//
//	go test ./sync -run '^$' -bench StateLoadedSize -benchtime 3x
func BenchmarkStateLoadedSize(b *testing.B) {
	const users = 20000
	path := filepath.Join(b.TempDir(), "state.json")
	if err := saveSyntheticState(path, users); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	var live uint64
	for b.Loop() {
		before := heapLive()
		st := NewFileState(path)
		s, err := st.Load(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		live = heapLive() - before // the state's own copy and the one Load returned
		runtime.KeepAlive(s)
		st.Close()
	}
	b.ReportMetric(float64(live)/users, "live-B/user")
	b.ReportMetric(float64(fi.Size())/users, "file-B/user")
}

// saveSyntheticState saves at path the state an initial sync of a
// synthetic directory of n users leaves, target ids being UUIDs.
func saveSyntheticState(path string, n int) error {
	dir := synth.Generate(synth.Config{Users: n, Groups: n / 20, MembershipsPerUser: 10, Seed: 1})
	des, err := mapping.Default().Map(context.Background(), dir)
	if err != nil {
		return err
	}
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := NewSnapshot()
	s.Target, s.Serial = "bench", 1
	targetID := make(map[string]string, len(des.Users))
	for i := range des.Users {
		du := &des.Users[i]
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919)
		targetID[du.SourceID] = id
		u := du.User
		s.Users[du.SourceID] = Link{TargetID: id, Origin: OriginCreated, Source: "bench", Since: since, Mirror: userMirror(&u)}
	}
	for i := range des.Groups {
		g := &des.Groups[i]
		ids := make([]string, 0, len(g.Members))
		for _, m := range g.Members {
			ids = append(ids, targetID[m])
		}
		m := withMembers(&Mirror{DisplayName: g.Group.DisplayName, ExternalID: g.Group.ExternalID}, ids)
		s.Groups[g.SourceID] = Link{TargetID: fmt.Sprintf("%08x-0000-4000-9000-%012x", i, i), Origin: OriginCreated, Source: "bench", Since: since, Mirror: m}
	}
	st := NewFileState(path)
	defer st.Close()
	return st.Save(context.Background(), s)
}

// heapLive is the heap reachable after a full collection.
func heapLive() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
