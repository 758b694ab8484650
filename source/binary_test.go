package source_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
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

// stream decodes b with Directory.ReadFrom, from a reader that returns
// one byte at a time, so that every read of the decoder crosses a refill.
func stream(b []byte) (*source.Directory, error) {
	d := new(source.Directory)
	n, err := d.ReadFrom(iotest.OneByteReader(bytes.NewReader(b)))
	if err != nil {
		return nil, err
	}
	if n != int64(len(b)) {
		return nil, fmt.Errorf("ReadFrom read %d bytes of %d", n, len(b))
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

// decoders are the two ways to decode an encoded directory.
var decoders = []struct {
	name   string
	decode func([]byte) (*source.Directory, error)
}{{"UnmarshalBinary", decode}, {"ReadFrom", stream}}

// decodeEach decodes b with each decoder in a subtest, checks that it is
// want, and calls check with the decoder and what it decoded.
func decodeEach(t *testing.T, b []byte, want *source.Directory, check func(t *testing.T, decode func([]byte) (*source.Directory, error), got *source.Directory)) {
	t.Helper()
	for _, dec := range decoders {
		t.Run(dec.name, func(t *testing.T) {
			got, err := dec.decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
			}
			check(t, dec.decode, got)
		})
	}
}

func TestDirectoryBinary(t *testing.T) {
	d := sourcetest.AttributeDirectory(20, "codec")
	d.Users[3].DeletedAt = time.Time{}
	d.Users[4].Emails = nil
	d.Users[5].Attributes = source.Attrs{}
	d.Users[6].Attributes = d.Users[6].Attributes.With("empty list", []string{})
	d.Users[6].Attributes = d.Users[6].Attributes.With("blank items", []string{"", "x"})
	d.Users[7].Attributes = d.Users[7].Attributes.With("blank items", []string{"x", ""})
	d.Groups = append(d.Groups, source.Group{ID: "h", MembersNote: "note", MemberGroups: []string{"g"}, Members: []string{"u1"}})
	b := mustMarshal(t, d)
	decodeEach(t, b, d, func(t *testing.T, decode func([]byte) (*source.Directory, error), got *source.Directory) {
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
		if _, err := decode([]byte("provsync directory 3\nmore")); !errors.Is(err, source.ErrBinaryVersion) {
			t.Fatalf("decoding a later version = %v, want source.ErrBinaryVersion", err)
		}
		// A string longer than the streamed decoder's buffer, which
		// must grow for it.
		long := d.Clone()
		long.Groups[0].Description = strings.Repeat("long description ", 5000)
		if got, err := decode(mustMarshal(t, long)); err != nil || got.Groups[0].Description != long.Groups[0].Description {
			t.Fatalf("decoding a description of %d bytes = %v", len(long.Groups[0].Description), err)
		}
	})
	// An attribute of a type the cache cannot keep is an error, not lost.
	d.Users[0].Attributes = d.Users[0].Attributes.With("bad", []int{1})
	if _, err := d.MarshalBinary(); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("encoding an attribute of type []int = %v, want an error naming it", err)
	}
}

// TestDirectoryReadFromErrors: a streamed directory whose reader fails
// reports the reader's error, not a malformed directory, and leaves the
// directory as it was; a corrupt count or string length is refused
// without allocating what it claims.
func TestDirectoryReadFromErrors(t *testing.T) {
	b := mustMarshal(t, sourcetest.AttributeDirectory(5, "errs"))
	broken := errors.New("connection reset")
	huge := binary.AppendUvarint([]byte("provsync directory 2\n"), 1<<30)
	hugeString := binary.AppendUvarint(binary.AppendUvarint([]byte("provsync directory 2\n"), 1), 1<<40)
	for _, tc := range []struct {
		name    string
		r       io.Reader
		wantIs  error
		invalid bool
	}{
		{"reader fails midway", io.MultiReader(bytes.NewReader(b[:len(b)/2]), iotest.ErrReader(broken)), broken, false},
		{"reader fails at once", iotest.ErrReader(broken), broken, false},
		{"timeout once", iotest.TimeoutReader(bytes.NewReader(b)), iotest.ErrTimeout, false},
		// Followed by a megabyte of zeros, so that the decoder does not
		// see the end before it allocates.
		{"count of 2^30 users", io.MultiReader(bytes.NewReader(huge), bytes.NewReader(make([]byte, 1<<20))), source.ErrInvalid, true},
		{"string of 2^40 bytes", io.MultiReader(bytes.NewReader(hugeString), bytes.NewReader(make([]byte, 1<<20))), source.ErrInvalid, true},
		{"not a directory", strings.NewReader("{\"users\": []}"), source.ErrInvalid, true},
		{"empty", strings.NewReader(""), source.ErrInvalid, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &source.Directory{Users: []source.User{{ID: "kept"}}}
			_, err := d.ReadFrom(tc.r)
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("ReadFrom = %v, want %v", err, tc.wantIs)
			}
			if errors.Is(err, source.ErrInvalid) != tc.invalid {
				t.Errorf("ReadFrom = %v: matches source.ErrInvalid %v, want %v", err, !tc.invalid, tc.invalid)
			}
			if len(d.Users) != 1 || d.Users[0].ID != "kept" {
				t.Errorf("a failed ReadFrom changed the directory to %d users", len(d.Users))
			}
		})
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
			Emails: []source.Email{{Value: id + "@example.com", Primary: true}, {Value: id + "@example.org"}}, Attributes: source.NewAttrs(map[string]any{
				"department": "Sales", "hireDate": hired, "licenses": []string{"E3", "Copilot"}, "level": int64(300)})})
	}
	decodeEach(t, mustMarshal(t, d), d, func(t *testing.T, _ func([]byte) (*source.Directory, error), got *source.Directory) {
		for _, name := range []string{"department", "hireDate", "licenses"} {
			for _, i := range []int{1, 2} {
				if a, b := got.Users[0].Attributes.Value(name), got.Users[i].Attributes.Value(name); boxOf(a) != boxOf(b) {
					t.Errorf("%s: users 1 and %d hold copies of one value, not one shared value", name, i+1)
				}
			}
		}
		if u := got.Users[0]; unsafe.StringData(u.Emails[0].Value) != unsafe.StringData(u.UserName) {
			t.Error("an email that is the user's name is a string of its own")
		}
		l := got.Users[1].Attributes.Value("licenses").([]string)
		_ = append(l, "Teams")
		if other := got.Users[2].Attributes.Value("licenses").([]string); cap(other) != len(other) {
			t.Errorf("a shared list has room (cap %d, len %d): an append to one user's would write into another's", cap(other), len(other))
		}
	})
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
		streamed, serr := stream(b)
		if (err == nil) != (serr == nil) || err == nil && !reflect.DeepEqual(d, streamed) {
			t.Fatalf("UnmarshalBinary = %v, ReadFrom = %v: the two decoders disagree", err, serr)
		}
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
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := new(source.Directory).ReadFrom(bytes.NewReader(enc)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
