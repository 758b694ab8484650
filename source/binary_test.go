package source_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/sourcetest"
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
