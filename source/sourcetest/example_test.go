package sourcetest_test

import (
	"context"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/sourcetest"
)

// memHarness runs the suite against the file source's in-memory form. An
// adapter's harness does the same against its fake provider: Open seeds
// the fake with the directory the suite wants (in the provider's terms)
// and returns a source reading it; Update changes the fake's data;
// FailNext makes the next read fail partway through.
type memHarness struct{ src *file.Source }

var _ sourcetest.Harness = (*memHarness)(nil)

func (h *memHarness) Open(_ context.Context, _ *testing.T, want *source.Directory) (source.Source, error) {
	h.src = file.FromDirectory(want.Clone())
	return h.src, nil
}

func (h *memHarness) Update(_ context.Context, _ *testing.T, want *source.Directory) error {
	h.src.Set(want.Clone())
	return nil
}

// FailNext is not supported: an in-memory directory cannot fail partway,
// so the suite skips the tests that need it.
func (h *memHarness) FailNext(*testing.T) error { return sourcetest.ErrNotSupported }

// An adapter's test file runs the whole suite through its harness, with
// options for what the provider can represent:
//
//	func TestConformance(t *testing.T) {
//		sourcetest.Run(t, &memHarness{}, sourcetest.WithUserAttributes("department"))
//	}
//
// (TestMemHarness in this package does exactly that.)
func Example() {}
