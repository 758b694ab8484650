package source_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
)

// applyBinaryBase is a synthetic directory with what synth does not make:
// member groups and attributes of every type on groups.
func applyBinaryBase(seed uint64) *source.Directory {
	d := synth.Generate(synth.Config{Users: 120, Groups: 12, MembershipsPerUser: 3, Seed: seed})
	d.Groups[1].MemberGroups = []string{d.Groups[2].ID, d.Groups[3].ID}
	d.Groups[2].Attributes = source.NewAttrs(map[string]any{"n": int64(3), "f": 1.5, "on": true, "at": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "tags": []string{"a", "b"}})
	d.Groups[3].MembersNote = "truncated"
	return d
}

// randomChanges makes batch number round of partial changes to d with r: users and
// groups changed in place, added and removed, group members that name
// removed users and added users.
func randomChanges(r *rand.Rand, round int, d *source.Directory) *source.Changes {
	ch := &source.Changes{Cursor: "next"}
	users := r.Perm(len(d.Users))
	for _, i := range users[:r.IntN(6)] {
		ch.RemovedUsers = append(ch.RemovedUsers, d.Users[i].ID)
	}
	users = users[len(ch.RemovedUsers):]
	for _, i := range users[:r.IntN(6)] {
		u := d.Users[i].Clone()
		u.FamilyName += " changed"
		u.State = source.StateSuspended
		u.Attributes = u.Attributes.With("level", int64(r.IntN(9)))
		ch.Users = append(ch.Users, u)
	}
	for h := range r.IntN(4) {
		id := fmt.Sprintf("hire-%d.%d", round, h+1)
		ch.Users = append(ch.Users, source.User{ID: id, UserName: id + "@example.com", GivenName: "Hire", FamilyName: id,
			Emails: []source.Email{{Value: id + "@example.com", Type: "work", Primary: true}}})
	}
	r.Shuffle(len(ch.Users), func(i, j int) { ch.Users[i], ch.Users[j] = ch.Users[j], ch.Users[i] })
	groups := r.Perm(len(d.Groups))
	for _, i := range groups[:r.IntN(3)] {
		ch.RemovedGroups = append(ch.RemovedGroups, d.Groups[i].ID)
	}
	groups = groups[len(ch.RemovedGroups):]
	pick := func() string {
		switch k := r.IntN(10); {
		case k == 0 && len(ch.RemovedUsers) > 0:
			return ch.RemovedUsers[r.IntN(len(ch.RemovedUsers))]
		case k == 1 && len(ch.Users) > 0:
			return ch.Users[r.IntN(len(ch.Users))].ID
		}
		return d.Users[r.IntN(len(d.Users))].ID
	}
	changed := func(g source.Group) source.Group {
		g.DisplayName += " changed"
		g.Members = nil
		for range r.IntN(8) {
			if id := pick(); !slices.Contains(g.Members, id) {
				g.Members = append(g.Members, id)
			}
		}
		if len(ch.RemovedGroups) > 0 && r.IntN(2) == 0 {
			g.MemberGroups = append(slices.Clone(g.MemberGroups), ch.RemovedGroups[0])
		}
		return g
	}
	for _, i := range groups[:r.IntN(4)] {
		ch.Groups = append(ch.Groups, changed(d.Groups[i].Clone()))
	}
	for k := range r.IntN(3) {
		ch.Groups = append(ch.Groups, changed(source.Group{ID: fmt.Sprintf("new-group-%d.%d", round, k), DisplayName: "New"}))
	}
	return ch
}

// TestApplyBinaryIsApplyEncoded: folding changes into an encoded
// directory gives the very bytes that decoding it, folding with
// ApplyShared and encoding the result give, whether the encodings are in
// memory (ApplyBinary) or streamed (ApplyBinaryTo), and leaves the
// changes as they were.
func TestApplyBinaryIsApplyEncoded(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			base := applyBinaryBase(seed%7 + 1)
			r := rand.New(rand.NewPCG(seed, 13))
			enc := mustMarshal(t, base)
			for round := range 3 {
				ch := randomChanges(r, round, base)
				before := cloneChanges(ch)
				old, err := decode(enc)
				if err != nil {
					t.Fatal(err)
				}
				folded, err := source.ApplyShared(old, ch)
				if err != nil {
					t.Fatalf("round %d: ApplyShared: %v", round, err)
				}
				want := mustMarshal(t, folded)
				got, err := source.ApplyBinary(enc, ch, len(folded.Users), len(folded.Groups))
				if err != nil {
					t.Fatalf("round %d: ApplyBinary: %v", round, err)
				}
				if !bytes.Equal(got, want) {
					d, derr := decode(got)
					t.Fatalf("round %d: ApplyBinary's %d bytes differ from the fold's encoding (%d bytes); decoded equal: %v (%v)",
						round, len(got), len(want), derr == nil && reflect.DeepEqual(d, folded), derr)
				}
				var streamed bytes.Buffer
				n, err := source.ApplyBinaryTo(&streamed, iotest.HalfReader(bytes.NewReader(enc)), ch, len(folded.Users), len(folded.Groups))
				if err != nil || n != int64(len(want)) || !bytes.Equal(streamed.Bytes(), want) {
					t.Fatalf("round %d: ApplyBinaryTo wrote %d bytes (%v), equal: %v; want the fold's %d", round, n, err, bytes.Equal(streamed.Bytes(), want), len(want))
				}
				if !reflect.DeepEqual(ch, before) {
					t.Fatalf("round %d: ApplyBinary changed the changes", round)
				}
				enc, base = got, folded
			}
		})
	}
}

func cloneChanges(ch *source.Changes) *source.Changes {
	d := (&source.Directory{Users: ch.Users, Groups: ch.Groups}).Clone()
	return &source.Changes{Users: d.Users, Groups: d.Groups, RemovedUsers: slices.Clone(ch.RemovedUsers),
		RemovedGroups: slices.Clone(ch.RemovedGroups), Cursor: ch.Cursor, Full: ch.Full}
}

// TestApplyBinaryErrors: what ApplyShared refuses in a batch, a result
// of other counts than the ones given, and an encoding that does not
// decode, are errors.
func TestApplyBinaryErrors(t *testing.T) {
	base := applyBinaryBase(1)
	enc := mustMarshal(t, base)
	u := source.User{ID: "u-x", UserName: "x@example.com"}
	tests := []struct {
		name string
		enc  []byte
		ch   *source.Changes
		want error
	}{
		{"no changes", enc, nil, source.ErrInvalid},
		{"upserted and removed", enc, &source.Changes{Users: []source.User{u}, RemovedUsers: []string{u.ID}}, source.ErrInvalid},
		{"upserted twice", enc, &source.Changes{Users: []source.User{u, u}}, source.ErrInvalid},
		{"not an encoding", []byte("{}"), &source.Changes{}, source.ErrInvalid},
		{"another version", []byte("provsync directory 1\n"), &source.Changes{}, source.ErrBinaryVersion},
		{"truncated", enc[:len(enc)-3], &source.Changes{}, source.ErrInvalid},
		{"trailing bytes", append(slices.Clone(enc), 0), &source.Changes{}, source.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := source.ApplyBinary(tt.enc, tt.ch, len(base.Users), len(base.Groups)); !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("ApplyBinary: %d bytes, %v; want nothing and %v", len(got), err, tt.want)
			}
		})
	}
	// A result of other counts than the ones given is an error too.
	if got, err := source.ApplyBinary(enc, &source.Changes{}, len(base.Users)+1, len(base.Groups)); !errors.Is(err, source.ErrInvalid) || got != nil {
		t.Fatalf("ApplyBinary with a user too many: %d bytes, %v; want nothing and %v", len(got), err, source.ErrInvalid)
	}
}

// TestApplyBinaryNamesAddedMembers: a group member that named no user of
// the encoded directory (which the encoding allows, and Validate does
// not) is written by position once a change adds the user, as
// MarshalBinary writes it; one removed is dropped.
func TestApplyBinaryNamesAddedMembers(t *testing.T) {
	base := applyBinaryBase(1)
	base.Groups[0].Members = append(base.Groups[0].Members, "gone-1", "hire-2")
	hire := source.User{ID: "hire-2", UserName: "hire-2@example.com"}
	want := base.Clone()
	want.Users = append(want.Users, hire)
	want.Groups[0].Members = slices.DeleteFunc(want.Groups[0].Members, func(id string) bool { return id == "gone-1" })
	got, err := source.ApplyBinary(mustMarshal(t, base), &source.Changes{Users: []source.User{hire}, RemovedUsers: []string{"gone-1"}},
		len(want.Users), len(want.Groups))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, mustMarshal(t, want)) {
		t.Fatal("ApplyBinary's encoding differs from the folded directory's")
	}
}

// TestApplyBinaryToStreams: the streamed fold writes its result as it
// reads its input, in pieces of about its buffer's size, so it never
// holds either encoding whole; a result whose counts are not the ones
// given is an error, as are the reader's and the writer's.
func TestApplyBinaryToStreams(t *testing.T) {
	base := synth.Generate(synth.Config{Users: 3000, Groups: 60, MembershipsPerUser: 3, Seed: 3})
	enc := mustMarshal(t, base)
	ch := &source.Changes{RemovedUsers: []string{base.Users[5].ID}}
	want := mustMarshal(t, must(source.ApplyShared(base, ch)))
	in := &countingReader{r: bytes.NewReader(enc)}
	w := &recordingWriter{in: in}
	if _, err := source.ApplyBinaryTo(w, in, ch, len(base.Users)-1, len(base.Groups)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.buf.Bytes(), want) {
		t.Fatal("the streamed fold differs from the fold's encoding")
	}
	if len(w.readAt) < 4 || w.readAt[0] >= int64(len(enc))/2 || w.largest > 256<<10 {
		t.Fatalf("%d writes, the first after reading %d of %d bytes, the largest %d bytes; want writes of at most 256 KiB from the first half of the input on",
			len(w.readAt), w.readAt[0], len(enc), w.largest)
	}
	for _, tt := range []struct {
		name          string
		users, groups int
		r             io.Reader
		w             io.Writer
		want          error
	}{
		{"users miscounted", len(base.Users), len(base.Groups), bytes.NewReader(enc), io.Discard, source.ErrInvalid},
		{"groups miscounted", len(base.Users) - 1, 0, bytes.NewReader(enc), io.Discard, source.ErrInvalid},
		{"read error", len(base.Users) - 1, len(base.Groups), iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(enc))), io.Discard, iotest.ErrTimeout},
		{"write error", len(base.Users) - 1, len(base.Groups), bytes.NewReader(enc), failingWriter{}, errWrite},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := source.ApplyBinaryTo(tt.w, tt.r, ch, tt.users, tt.groups); !errors.Is(err, tt.want) {
				t.Fatalf("ApplyBinaryTo: %v; want %v", err, tt.want)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// recordingWriter keeps what is written, and how much of in was read at
// each write.
type recordingWriter struct {
	in      *countingReader
	buf     bytes.Buffer
	readAt  []int64
	largest int
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.readAt = append(w.readAt, w.in.n)
	w.largest = max(w.largest, len(p))
	return w.buf.Write(p)
}

var errWrite = errors.New("write failed")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

// TestDirectoryWriteToStreams: WriteTo writes what MarshalBinary returns,
// in pieces of at most 256 KiB, so the whole encoding is never held; a
// write error is returned.
func TestDirectoryWriteToStreams(t *testing.T) {
	d := synth.Generate(synth.Config{Users: 3000, Groups: 60, MembershipsPerUser: 3, Seed: 3})
	want := mustMarshal(t, d)
	w := &recordingWriter{in: &countingReader{}}
	n, err := d.WriteTo(w)
	if err != nil || n != int64(len(want)) || !bytes.Equal(w.buf.Bytes(), want) {
		t.Fatalf("WriteTo: %d bytes, %v, equal %v; want MarshalBinary's %d", n, err, bytes.Equal(w.buf.Bytes(), want), len(want))
	}
	if len(w.readAt) < 4 || w.largest > 256<<10 {
		t.Fatalf("%d writes, the largest %d bytes; want several of at most 256 KiB", len(w.readAt), w.largest)
	}
	if _, err := d.WriteTo(failingWriter{}); !errors.Is(err, errWrite) {
		t.Fatalf("WriteTo a failing writer: %v; want its error", err)
	}
}
