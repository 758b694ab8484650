package merge_test

import (
	"context"
	"strings"
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/merge"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/source/synth"
)

// harness runs the conformance suite over a merge of two sources: "a"
// holds the directory, "b" is empty and fails when asked. The merged ids
// are "a/<id>"; the suite compares them with the ids it seeded through
// unprefixed, which strips the prefix again.
type harness struct {
	a *file.Source
	b *flaky
}

func (h *harness) Open(_ context.Context, _ *testing.T, want *source.Directory) (source.Source, error) {
	h.a, h.b = file.FromDirectory(want), &flaky{}
	m, err := merge.New([]merge.Member{{Name: "a", Source: h.a}, {Name: "b", Source: h.b}})
	if err != nil {
		return nil, err
	}
	return unprefixed{m}, nil
}

func (h *harness) Update(_ context.Context, _ *testing.T, want *source.Directory) error {
	h.a.Set(want)
	return nil
}

func (h *harness) FailNext(*testing.T) error {
	h.b.mu.Lock()
	h.b.failNext = true
	h.b.mu.Unlock()
	return nil
}

// flaky is an empty source whose next read fails once when told to.
type flaky struct {
	mu       gosync.Mutex
	failNext bool
}

func (f *flaky) Name() string { return "flaky" }
func (f *flaky) Read(ctx context.Context) (*source.Directory, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext {
		f.failNext = false
		return nil, source.ErrUnavailable
	}
	return &source.Directory{}, ctx.Err()
}

// unprefixed strips member a's prefix from the merged directory's ids.
type unprefixed struct{ *merge.Source }

func (u unprefixed) Read(ctx context.Context) (*source.Directory, error) {
	d, err := u.Source.Read(ctx)
	if err != nil {
		return nil, err
	}
	strip := func(id string) string { return strings.TrimPrefix(id, "a/") }
	for i := range d.Users {
		d.Users[i].ID = strip(d.Users[i].ID)
		if m, ok := d.Users[i].Attributes.Value(synth.AttrManagerID).(string); ok {
			d.Users[i].Attributes = d.Users[i].Attributes.With(synth.AttrManagerID, strip(m))
		}
	}
	for i := range d.Groups {
		g := &d.Groups[i]
		g.ID = strip(g.ID)
		for k := range g.Members {
			g.Members[k] = strip(g.Members[k])
		}
		for k := range g.MemberGroups {
			g.MemberGroups[k] = strip(g.MemberGroups[k])
		}
	}
	return d, nil
}

func TestConformance(t *testing.T) {
	sourcetest.Run(t, &harness{},
		sourcetest.WithUserAttributes(synth.AttrDepartment, synth.AttrJobTitle, synth.AttrEmployeeID, synth.AttrManagerID,
			synth.AttrHireDate, synth.AttrLicenses, synth.AttrLevel, "deletedAt", "emails"),
		sourcetest.WithGroupAttributes("email", "description", synth.AttrGroupType))
}
