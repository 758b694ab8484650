package file_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/synth"
)

// selections are the name sets the tests read with: none, one attribute
// at a time (all of them, see attributeNames), names in another case
// (also one that folds to the name but does not lower to it: a long s, a
// Kelvin sign), a nested one, a list one, built-in and unknown names.
func selections(dir *source.Directory) [][]string {
	sets := [][]string{nil, {}, {"nope"}, {"email", "id", "userName"},
		{"DEPARTMENT"}, {"hr.COSTCENTER", "Hr.Region.Name"}, {"hr.coſtcenter"}, {"\u212aIND"}, {"licenses", "LEVEL", "type"},
		{synth.AttrDepartment, synth.AttrManagerID, synth.AttrHireDate, synth.AttrLicenses, "unknown"}}
	all := attributeNames(dir)
	for _, n := range all {
		sets = append(sets, []string{n})
	}
	return append(sets, all)
}

// attributeNames returns the names of every attribute in dir.
func attributeNames(dir *source.Directory) []string {
	seen := map[string]bool{}
	var names []string
	add := func(a source.Attrs) {
		for _, k := range a.Names() {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	for i := range dir.Users {
		add(dir.Users[i].Attributes)
	}
	for i := range dir.Groups {
		add(dir.Groups[i].Attributes)
	}
	return names
}

// only returns a copy of dir whose objects hold only the attributes
// named in names, ignoring case, and how many it kept. It is the test's
// own filter, written out rather than source.AttrFilter's.
func only(dir *source.Directory, names []string) (*source.Directory, int) {
	out, kept := dir.Clone(), 0
	filter := func(a source.Attrs) source.Attrs {
		var b source.Attrs
		for k, v := range a.All() {
			for _, n := range names {
				if strings.EqualFold(k, n) {
					b = b.With(k, v)
					kept++
					break
				}
			}
		}
		return b
	}
	for i := range out.Users {
		out.Users[i].Attributes = filter(out.Users[i].Attributes)
	}
	for i := range out.Groups {
		out.Groups[i].Attributes = filter(out.Groups[i].Attributes)
	}
	return out, kept
}

// fileSources returns the file sources the tests read: the hand-written
// files, a generated directory written as JSON and YAML, and directories
// in memory.
func fileSources(t *testing.T) map[string]*file.Source {
	t.Helper()
	gen := synth.Generate(synth.Config{Users: 150, Groups: 12, MembershipsPerUser: 3,
		SuspendedFraction: 0.1, DeletedFraction: 0.05, Seed: 11})
	gen.Groups[0].Attributes = source.NewAttrs(map[string]any{"Owner": "x", "type": "team", "kind": "k"})
	srcs := map[string]*file.Source{
		"yaml":         file.FromBytes([]byte(goodYAML), file.FormatYAML),
		"json":         file.FromBytes([]byte(goodJSON), file.FormatJSON),
		"memory":       file.FromDirectory(wantGood(true)),
		"synth memory": file.FromDirectory(gen),
		"memory nil":   file.FromDirectory(nil),
	}
	for _, f := range []file.Format{file.FormatJSON, file.FormatYAML} {
		var b bytes.Buffer
		if err := file.Write(&b, gen, f); err != nil {
			t.Fatal(err)
		}
		srcs["synth "+f.String()] = file.FromBytes(b.Bytes(), file.FormatAuto)
	}
	return srcs
}

// TestReadAttributes: for every name set, a selecting read returns what
// Read returns with each user's and group's attributes cut to those
// named, ignoring case.
func TestReadAttributes(t *testing.T) {
	ctx := context.Background()
	for name, src := range fileSources(t) {
		whole, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("%s: Read: %v", name, err)
		}
		keptAny := false
		for _, names := range selections(whole) {
			want, kept := only(whole, names)
			keptAny = keptAny || kept > 0
			got, err := src.ReadAttributes(ctx, names)
			if err != nil {
				t.Fatalf("%s: ReadAttributes(%q): %v", name, names, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: ReadAttributes(%q) differs from Read with only those attributes:\n got %v\nwant %v",
					name, names, attrsOf(got), attrsOf(want))
			}
		}
		if !keptAny && len(attributeNames(whole)) > 0 {
			t.Errorf("%s: no selection kept an attribute; the test compares nothing", name)
		}
	}
}

// attrsOf lists the attributes of a directory's objects, for a message.
func attrsOf(dir *source.Directory) []string {
	var out []string
	for i := range dir.Users {
		out = append(out, dir.Users[i].ID+":"+dir.Users[i].Attributes.String())
	}
	for i := range dir.Groups {
		out = append(out, dir.Groups[i].ID+":"+dir.Groups[i].Attributes.String())
	}
	return out
}

// TestReadAttributesRefusesAsRead: a file Read refuses, ReadAttributes
// refuses with the same error whichever attributes it keeps, the bad ones
// or others: a problem in an attribute left out is still reported.
func TestReadAttributesRefusesAsRead(t *testing.T) {
	ctx := context.Background()
	for _, tt := range badFiles() {
		src := file.FromBytes([]byte(tt.data), tt.format)
		_, want := src.Read(ctx)
		if want == nil {
			t.Fatalf("%s: Read accepted the file", tt.name)
		}
		for _, names := range [][]string{nil, {"department"}, {"x", "tags", "HR.cc", "dept", "n", "mail"}} {
			dir, err := src.ReadAttributes(ctx, names)
			if err == nil || dir != nil {
				t.Errorf("%s: ReadAttributes(%q) = %v, %v; want Read's error", tt.name, names, dir, err)
				continue
			}
			if err.Error() != want.Error() || !errors.Is(err, source.ErrInvalid) {
				t.Errorf("%s: ReadAttributes(%q) error\n%v\nwant Read's\n%v", tt.name, names, err, want)
			}
		}
	}
}

// TestReadAttributesChecksDropped: an attribute left out of a selecting
// read is checked as Read checks it, whichever check finds the problem:
// the value's conversion, the directory's Validate (names and values) or
// the JSON checks. The problem is reported naming the object and the
// attribute.
func TestReadAttributesChecksDropped(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		format file.Format
		attrs  string // the second user's attributes, in the format
		want   string
	}{
		{"list of numbers", file.FormatYAML, "{tags: [1]}", `user "u-2" (users[1]): attributes["tags"]: item 0 is a number`},
		{"built-in name", file.FormatYAML, "{Mail: a@x}", `user "u-2" (users[1]): attributes["Mail"]: the name is a built-in field's`},
		{"names equal ignoring case", file.FormatYAML, "{cc: a, CC: b}", `user "u-2" (users[1]): attributes["cc"]: collides with attribute "CC"`},
		{"nested and dotted", file.FormatYAML, "{HR: {cc: a}, HR.cc: b}", `user "u-2" (users[1]): attributes["HR.cc"]: set twice`},
		{"empty name", file.FormatYAML, `{" ": a}`, `user "u-2" (users[1]): attributes[" "]: empty attribute name`},
		{"value too long", file.FormatYAML, "{x: " + strings.Repeat("a", source.MaxValueBytes+1) + "}", `user "u-2" (users[1]): attributes["x"]:`},
		{"not a mapping", file.FormatYAML, "[a]", `user "u-2" (users[1]): attributes`},
		{"duplicate key", file.FormatYAML, "{a: 1, a: 2}", `user "u-2" (users[1]): attributes.a: mapping key "a" already defined`},
		{"json number out of range", file.FormatJSON, `{"n": 1e999}`, `user "u-2" (users[1]): attributes["n"]: number 1e999 is out of range`},
		{"json duplicate key", file.FormatJSON, `{"a": 1, "A": 2}`, `user "u-2" (users[1]): attributes["A"]: set twice in one object`},
		{"json lone surrogate", file.FormatJSON, `{"a": "\ud800"}`, `user "u-2" (users[1]): attributes["a"]: the escape \ud800 is half`},
		{"json not an object", file.FormatJSON, `"x"`, `user "u-2" (users[1]): attributes: want`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "users:\n  - {id: u-1, attributes: {department: R&D}}\n  - {id: u-2, attributes: " + tt.attrs + "}\n"
			if tt.format == file.FormatJSON {
				data = `{"users": [{"id": "u-1", "attributes": {"department": "R&D"}}, {"id": "u-2", "attributes": ` + tt.attrs + `}]}`
			}
			src := file.FromBytes([]byte(data), tt.format)
			_, want := src.Read(ctx)
			if want == nil {
				t.Fatal("Read accepted the file")
			}
			dir, err := src.ReadAttributes(ctx, []string{"department"})
			if err == nil {
				t.Fatalf("ReadAttributes accepted the file: %v", attrsOf(dir))
			}
			var oe *source.ObjectError
			if err.Error() != want.Error() || !errors.As(err, &oe) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadAttributes error\n%v\nwant Read's, naming %q:\n%v", err, tt.want, want)
			}
		})
	}
}

// TestMappingOverSelectedRead: every mapping that says which attributes
// it reads maps a selected read of them to what it maps the whole read
// to, so that the engine's selected read never blanks a mapped attribute.
func TestMappingOverSelectedRead(t *testing.T) {
	ctx := context.Background()
	rules, err := mapping.Rules{}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []mapping.Mapper{mapping.DefaultMapper{}, rules} {
		r, ok := m.(mapping.AttributeReader)
		if !ok {
			continue
		}
		names, known := r.SourceAttributes()
		if !known {
			continue
		}
		for name, src := range fileSources(t) {
			whole, err := src.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sel, err := src.ReadAttributes(ctx, names)
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.Map(ctx, whole)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Map(ctx, sel)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%T, %s: Map over ReadAttributes(%q) differs from Map over Read", m, name, names)
			}
		}
	}
}

// BenchmarkReadAttributes reads a generated file of 20,000 users whole
// and selecting none of the attributes, and reports the bytes the
// directory read holds (retained-B) besides the allocations.
func BenchmarkReadAttributes(b *testing.B) {
	gen := synth.Generate(synth.Config{Users: 20000, Groups: 200, MembershipsPerUser: 3, Seed: 5})
	for _, f := range []file.Format{file.FormatJSON, file.FormatYAML} {
		var buf bytes.Buffer
		if err := file.Write(&buf, gen, f); err != nil {
			b.Fatal(err)
		}
		src := file.FromBytes(buf.Bytes(), f)
		for _, sel := range []bool{false, true} {
			name := f.String() + "/whole"
			if sel {
				name = f.String() + "/none"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				var retained uint64
				for b.Loop() {
					runtime.GC()
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					var dir *source.Directory
					var err error
					if sel {
						dir, err = src.ReadAttributes(context.Background(), nil)
					} else {
						dir, err = src.Read(context.Background())
					}
					if err != nil {
						b.Fatal(err)
					}
					runtime.GC()
					runtime.ReadMemStats(&after)
					retained = after.HeapAlloc - before.HeapAlloc
					runtime.KeepAlive(dir)
				}
				b.ReportMetric(float64(retained), "retained-B")
			})
		}
	}
}
