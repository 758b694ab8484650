package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	gosync "sync"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
)

// dirSource is one directory and the batches of changes the benchmark
// made to it. The engine sees it through fullSource or incSource. The
// directory is kept encoded (source.Directory.MarshalBinary) in a file,
// not in this process's memory, since this process's peak memory is the
// engine's figure and a real provider's directory is not held in the
// engine: each read streams the file and decodes a copy for the engine
// (source.Directory.ReadFrom, a 64 KiB buffer at a time), as an adapter
// reads the provider's pages and builds its directory from them, and that
// read is inside the cycle's measured CPU and wall time.
type dirSource struct {
	mu            gosync.RWMutex
	path          string // the encoded directory
	size          int64  // its bytes
	users, groups int    // in the directory
	// batches are the batches of changes made so far; only the last is
	// kept (the others are nil), as only it is read again.
	batches []*source.Changes
	// planned is, per batch, the changes a plan needs for it: one per
	// user changed, hired or gone, one per group renamed, and per group
	// one for members added and one for members removed. writes is the
	// write requests they take: the same, but one per group whose
	// members change, as its additions and removals go in one PATCH.
	// Groups the mapper's group rules make count as source groups do.
	planned, writes []int
	// mapper is the engine's mapping, nil for the default: change counts
	// the rule groups a batch's leavers leave and its hires join.
	mapper mapping.Mapper
	// reads counts the plain reads (Read) since takeReads, and selected
	// holds the names each selecting read (ReadAttributes) asked for.
	reads    int
	selected [][]string
}

// fullSource reads in full every time, as a provider without a change
// feed (Google) is read, and only the attributes the engine's mapping
// reads (none, for the default mapping), as Google's Directory API can
// be asked for (its projection and fields parameters).
type fullSource struct{ *dirSource }

var _ source.AttributeSelector = fullSource{}

// ReadAttributes is Read, keeping only the attributes named.
func (s fullSource) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	s.record(true, names)
	return s.read(ctx, func(d *source.Directory, f io.Reader) (int64, error) { return d.ReadAttributesFrom(f, names) })
}

// incSource also reports what changed since a cursor.
type incSource struct{ *dirSource }

var _ source.Incremental = incSource{}

func (s *dirSource) Name() string { return "bench" }

// newDirSource keeps d, encoded, in a new file of dir; close removes it.
func newDirSource(d *source.Directory, dir string) (*dirSource, error) {
	f, err := os.CreateTemp(dir, "bench100k-directory-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	s := &dirSource{path: f.Name()}
	if err := f.Close(); err != nil {
		return nil, errors.Join(fmt.Errorf("bench: %w", err), s.close())
	}
	if err := s.store(d); err != nil {
		return nil, errors.Join(err, s.close())
	}
	return s, nil
}

// close removes the file of the directory.
func (s *dirSource) close() error { return os.Remove(s.path) }

// store makes d the directory. The caller holds s.mu or is its only user.
func (s *dirSource) store(d *source.Directory) error {
	enc, err := d.MarshalBinary()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(s.path, enc, 0o600); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	s.size, s.users, s.groups = int64(len(enc)), len(d.Users), len(d.Groups)
	return nil
}

// directory reads a copy of the directory from its file. The caller
// holds s.mu.
func (s *dirSource) directory() (*source.Directory, error) {
	return s.decode((*source.Directory).ReadFrom)
}

// decode reads a copy of the directory from its file with read. The
// caller holds s.mu.
func (s *dirSource) decode(read func(*source.Directory, io.Reader) (int64, error)) (*source.Directory, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	d := new(source.Directory)
	if _, err := read(d, f); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", s.path, err)
	}
	return d, nil
}

// Read returns all of the directory, as a deep copy: the caller owns what
// it gets.
func (s *dirSource) Read(ctx context.Context) (*source.Directory, error) {
	s.record(false, nil)
	return s.read(ctx, (*source.Directory).ReadFrom)
}

// record counts a read: a selecting one of names, or a plain one.
func (s *dirSource) record(selecting bool, names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !selecting {
		s.reads++
		return
	}
	s.selected = append(s.selected, append([]string{}, names...))
}

// takeReads returns the reads recorded since the last call (see reads
// and selected) and forgets them.
func (s *dirSource) takeReads() (reads int, selected [][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reads, selected = s.reads, s.selected
	s.reads, s.selected = 0, nil
	return reads, selected
}

// read decodes a copy of the directory from its file with decode,
// unless ctx is done.
func (s *dirSource) read(ctx context.Context, decode func(*source.Directory, io.Reader) (int64, error)) (*source.Directory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.decode(decode)
}

// ReadChanges reports the batches of changes since cursor, the number of
// batches already read. A cursor older than the last batch is answered
// with source.ErrCursorExpired, which makes the engine read in full (the
// benchmark's engine reads after every batch, so this does not happen).
func (s incSource) ReadChanges(ctx context.Context, cursor string) (*source.Changes, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	next := strconv.Itoa(len(s.batches))
	if cursor == "" {
		d, err := s.directory()
		if err != nil {
			return nil, err
		}
		return &source.Changes{Users: d.Users, Groups: d.Groups, Cursor: next, Full: true}, nil
	}
	n, err := strconv.Atoi(cursor)
	switch {
	case err != nil || n < 0 || n > len(s.batches):
		return nil, fmt.Errorf("bench: cursor %q: %w", cursor, source.ErrCursorExpired)
	case n == len(s.batches):
		return &source.Changes{Cursor: next}, nil
	case n == len(s.batches)-1:
		b := s.batches[n]
		d := (&source.Directory{Users: b.Users, Groups: b.Groups}).Clone()
		return &source.Changes{Users: d.Users, Groups: d.Groups, RemovedUsers: slices.Clone(b.RemovedUsers),
			RemovedGroups: slices.Clone(b.RemovedGroups), Cursor: next}, nil
	}
	return nil, fmt.Errorf("bench: cursor %q is more than one batch old: %w", cursor, source.ErrCursorExpired)
}

// changeMix is how many changes of each kind one batch makes. Two mixes
// run, each once between drift checks and once as a drift check:
//
//   - issueMix is issue 13's 100-change cycle exactly: 40 renames, 30
//     suspensions and 15 membership moves. A move takes a user out of one
//     group and into another, so the plan holds 40 + 30 user updates and,
//     when the 15 moves touch 30 distinct groups, 30 member changes: 100
//     writes, where the issue's goal is at most 110 requests.
//   - broadMix adds 5 hires (a new user in one group), 5 leavers (users
//     gone from the source, so from their groups too: about 10 groups
//     each) and 5 group renames to those 85, 100 source changes that cost
//     about 150 writes.
type changeMix struct {
	Renames, Suspensions, Moves, Hires, Leavers, GroupRenames int
}

func issueMix() changeMix { return changeMix{Renames: 40, Suspensions: 30, Moves: 15} }

func broadMix() changeMix {
	return changeMix{Renames: 40, Suspensions: 30, Moves: 15, Hires: 5, Leavers: 5, GroupRenames: 5}
}

// String lists the mix's non-zero counts: "40 renames, 30 suspensions, ...".
func (m changeMix) String() string {
	var parts []string
	for _, k := range []struct {
		n    int
		what string
	}{{m.Renames, "renames"}, {m.Suspensions, "suspensions"}, {m.Moves, "membership moves"},
		{m.Hires, "hires"}, {m.Leavers, "leavers"}, {m.GroupRenames, "group renames"}} {
		if k.n > 0 {
			parts = append(parts, strconv.Itoa(k.n)+" "+k.what)
		}
	}
	return strings.Join(parts, ", ")
}

func (m changeMix) total() int {
	return m.Renames + m.Suspensions + m.Moves + m.Hires + m.Leavers + m.GroupRenames
}

// usersNeeded is how many distinct active users one batch picks.
func (m changeMix) usersNeeded() int { return m.Renames + m.Suspensions + m.Moves + m.Leavers }

// change makes batch number round (1, 2, ...) of mix in s's directory,
// choosing users and groups with r, and records it in the feed. Each
// user it touches is touched once; only active users are picked, so every
// change is one the target must see.
func (s *dirSource) change(ctx context.Context, r *rand.Rand, round int, mix changeMix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.directory()
	if err != nil {
		return err
	}
	var active []int
	for i := range d.Users {
		if d.Users[i].State == source.StateActive {
			active = append(active, i)
		}
	}
	if len(active) < mix.usersNeeded() || len(d.Groups) < 2*max(mix.GroupRenames, 1) {
		return fmt.Errorf("bench: %d active users and %d groups are too few for a batch of %d changes", len(active), len(d.Groups), mix.total())
	}
	r.Shuffle(len(active), func(i, j int) { active[i], active[j] = active[j], active[i] })
	tag := " r" + strconv.Itoa(round)
	changedUsers := map[int]bool{}
	changedGroups := map[int]bool{}
	added, dropped := map[int]bool{}, map[int]bool{}
	take := func(n int) []int { p := active[:n]; active = active[n:]; return p }

	for _, i := range take(mix.Renames) {
		u := &d.Users[i]
		u.FamilyName += tag
		u.DisplayName = u.GivenName + " " + u.FamilyName
		changedUsers[i] = true
	}
	for _, i := range take(mix.Suspensions) {
		d.Users[i].State = source.StateSuspended
		changedUsers[i] = true
	}
	memberOf := make(map[string][]int, len(d.Users))
	for g := range d.Groups {
		for _, m := range d.Groups[g].Members {
			memberOf[m] = append(memberOf[m], g)
		}
	}
	// A user is moved to a group it is not in yet: users already in every
	// group are passed over.
	moved := 0
	for k := 0; moved < mix.Moves; k++ {
		if k == len(active) {
			return fmt.Errorf("bench: only %d users can move to a group they are not in, of %d", moved, mix.Moves)
		}
		i := active[k]
		id := d.Users[i].ID
		if len(memberOf[id]) >= len(d.Groups) {
			continue
		}
		active[k], active[moved] = active[moved], active[k]
		moved++
		to := r.IntN(len(d.Groups))
		for slices.Contains(memberOf[id], to) {
			to = (to + 1) % len(d.Groups)
		}
		if from := memberOf[id]; len(from) > 0 {
			g := from[r.IntN(len(from))]
			d.Groups[g].Members = slices.DeleteFunc(d.Groups[g].Members, func(m string) bool { return m == id })
			changedGroups[g], dropped[g] = true, true
		}
		d.Groups[to].Members = append(d.Groups[to].Members, id)
		changedGroups[to], added[to] = true, true
	}
	active = active[moved:]
	var removed []string
	var left, hired []source.User
	for _, i := range take(mix.Leavers) {
		removed = append(removed, d.Users[i].ID)
		left = append(left, d.Users[i])
	}
	gone := make(map[string]bool, len(removed))
	for _, id := range removed {
		gone[id] = true
		for _, g := range memberOf[id] {
			d.Groups[g].Members = slices.DeleteFunc(d.Groups[g].Members, func(m string) bool { return m == id })
			changedGroups[g], dropped[g] = true, true
		}
	}
	for h := range mix.Hires {
		local := "hire" + strconv.Itoa(round) + "." + strconv.Itoa(h+1)
		upn := local + "@example.com"
		d.Users = append(d.Users, source.User{
			ID: "bench-" + local, UserName: upn, GivenName: "Hire", FamilyName: strconv.Itoa(round) + "-" + strconv.Itoa(h+1),
			DisplayName: "Hire " + strconv.Itoa(round) + "-" + strconv.Itoa(h+1),
			Emails:      []source.Email{{Value: upn, Type: "work", Primary: true}},
			Attributes:  hireAttributes(),
		})
		hired = append(hired, d.Users[len(d.Users)-1])
		changedUsers[len(d.Users)-1] = true
		g := r.IntN(len(d.Groups))
		d.Groups[g].Members = append(d.Groups[g].Members, "bench-"+local)
		changedGroups[g], added[g] = true, true
	}
	// Groups whose members did not change are renamed first, so that a
	// rename is a change of its own where the directory allows.
	groups := r.Perm(len(d.Groups))
	slices.SortStableFunc(groups, func(a, b int) int { return cmpBool(changedGroups[a], changedGroups[b]) })
	for _, g := range groups[:mix.GroupRenames] {
		d.Groups[g].DisplayName += tag
		changedGroups[g] = true
	}

	b := &source.Changes{RemovedUsers: removed}
	for _, i := range slices.Sorted(maps.Keys(changedUsers)) {
		if !gone[d.Users[i].ID] {
			b.Users = append(b.Users, d.Users[i].Clone())
		}
	}
	for _, g := range slices.Sorted(maps.Keys(changedGroups)) {
		b.Groups = append(b.Groups, d.Groups[g].Clone())
	}
	d.Users = slices.DeleteFunc(d.Users, func(u source.User) bool { return gone[u.ID] })
	// Only the last batch is ever read again (an older cursor is expired),
	// and what this process holds counts as the engine's heap: the older
	// batches, whose groups carry whole member lists, are dropped.
	if n := len(s.batches); n > 0 {
		s.batches[n-1] = nil
	}
	s.batches = append(s.batches, b)
	// The rule groups (none for the default mapping) the leavers leave
	// and the hires join: renames, suspensions and moves change no
	// attribute the rules read.
	ruleDropped, err := ruleGroups(ctx, s.mapper, left)
	if err != nil {
		return err
	}
	ruleAdded, err := ruleGroups(ctx, s.mapper, hired)
	if err != nil {
		return err
	}
	s.planned = append(s.planned, len(b.Users)+len(removed)+mix.GroupRenames+len(added)+len(dropped)+len(ruleAdded)+len(ruleDropped))
	maps.Copy(added, dropped)
	maps.Copy(ruleAdded, ruleDropped)
	s.writes = append(s.writes, len(b.Users)+len(removed)+mix.GroupRenames+len(added)+len(ruleAdded))
	if err := d.Validate(); err != nil {
		return err
	}
	return s.store(d)
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
