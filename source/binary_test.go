package source_test

import (
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/source/synth"
)

func decode(b []byte) (*source.Directory, error) {
	d := new(source.Directory)
	if err := d.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return d, nil
}

func mustMarshal(t *testing.T, d *source.Directory) []byte {
	t.Helper()
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDirectoryBinary(t *testing.T) {
	d := sourcetest.AttributeDirectory(20, "codec")
	d.Users[3].DeletedAt = time.Time{}
	d.Users[4].Emails = nil
	d.Users[5].Attributes = nil
	d.Groups = append(d.Groups, source.Group{ID: "h", MembersNote: "note", MemberGroups: []string{"g"}, Members: []string{"u1"}})
	b := mustMarshal(t, d)
	got, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, d)
	}
	// Member ids share the users' strings.
	if unsafe.StringData(got.Groups[0].Members[1]) != unsafe.StringData(got.Users[1].ID) {
		t.Error("a member id is a string of its own, not the user's id")
	}
	// Every truncation, and trailing bytes, are refused.
	for n := range len(b) {
		if _, err := decode(b[:n]); !errors.Is(err, source.ErrInvalid) {
			t.Fatalf("decoding the first %d of %d bytes = %v, want source.ErrInvalid", n, len(b), err)
		}
	}
	if _, err := decode(append(b, 0)); !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("decoding with a trailing byte = %v, want source.ErrInvalid", err)
	}
	// An attribute of a type the cache cannot keep is an error, not lost.
	d.Users[0].Attributes["bad"] = []int{1}
	if _, err := d.MarshalBinary(); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("encoding an attribute of type []int = %v, want an error naming it", err)
	}
}

// boxOf returns the data word of an interface value: equal for two
// values that share one boxed copy.
func boxOf(v any) unsafe.Pointer { return (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1] }

// TestDirectoryBinarySharesValues: attribute values that repeat across
// users (a department, a hire date, a list of licenses) decode to one
// shared value each, which appending to cannot change for the others,
// and an email that is the user's name to the name's string.
func TestDirectoryBinarySharesValues(t *testing.T) {
	hired := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)
	d := &source.Directory{}
	for _, id := range []string{"u1", "u2", "u3"} {
		d.Users = append(d.Users, source.User{ID: id, UserName: id + "@example.com",
			Emails: []source.Email{{Value: id + "@example.com", Primary: true}, {Value: id + "@example.org"}}, Attributes: map[string]any{
				"department": "Sales", "hireDate": hired, "licenses": []string{"E3", "Copilot"}, "level": int64(300)}})
	}
	got, err := decode(mustMarshal(t, d))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, d)
	}
	for _, name := range []string{"department", "hireDate", "licenses"} {
		// The first user's list and time are read where the encoding
		// writes their strings out; the next ones share a value.
		if a, b := got.Users[1].Attributes[name], got.Users[2].Attributes[name]; boxOf(a) != boxOf(b) {
			t.Errorf("%s: users 2 and 3 hold copies of one value, not one shared value", name)
		}
	}
	if u := got.Users[0]; unsafe.StringData(u.Emails[0].Value) != unsafe.StringData(u.UserName) {
		t.Error("an email that is the user's name is a string of its own")
	}
	l := got.Users[1].Attributes["licenses"].([]string)
	_ = append(l, "Teams")
	if other := got.Users[2].Attributes["licenses"].([]string); cap(other) != len(other) {
		t.Errorf("a shared list has room (cap %d, len %d): an append to one user's would write into another's", cap(other), len(other))
	}
}

// BenchmarkDirectoryDecodedSize reports the heap a decoded synthetic
// directory holds per user (20,000 users, 1,000 groups, 10 memberships
// each), as a source decodes it for each read:
//
//	go test ./source -run '^$' -bench DirectoryDecodedSize -benchtime 3x
func BenchmarkDirectoryDecodedSize(b *testing.B) {
	const users = 20000
	enc, err := synth.Generate(synth.Config{Users: users, Groups: users / 20, MembershipsPerUser: 10, Seed: 1}).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	var live uint64
	for b.Loop() {
		before := heapInUse()
		d, err := decode(enc)
		if err != nil {
			b.Fatal(err)
		}
		live = heapInUse() - before
		runtime.KeepAlive(d)
	}
	b.ReportMetric(float64(live)/users, "live-B/user")
	b.ReportMetric(float64(len(enc))/users, "encoded-B/user")
}

// heapInUse is the heap reachable after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func FuzzDirectoryUnmarshalBinary(f *testing.F) {
	b, _ := sourcetest.AttributeDirectory(2, "fuzz").MarshalBinary()
	f.Add(b)
	f.Add([]byte("provsync directory 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decode(b)
		if err != nil {
			return
		}
		again, err := d.MarshalBinary()
		if err != nil {
			t.Fatalf("a decoded directory does not encode: %v", err)
		}
		if _, err := decode(again); err != nil {
			t.Fatalf("a re-encoded directory does not decode: %v", err)
		}
	})
}

func BenchmarkDirectoryBinary(b *testing.B) {
	d := sourcetest.AttributeDirectory(20000, "bench")
	enc, err := d.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = d.MarshalBinary()
		}
		b.ReportMetric(float64(len(enc))/float64(len(d.Users)), "bytes/user")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = decode(enc)
		}
	})
}
