// Package sourcetest is the conformance suite every source.Source passes,
// in the manner of go-cloud's drivertest: the contract is written once
// here, and each adapter runs it against its fake provider through a
// Harness.
//
//	func TestConformance(t *testing.T) {
//		sourcetest.Run(t, &harness{}, sourcetest.WithStates(source.StateActive, source.StateSuspended))
//	}
//
// The suite seeds the fake with synthetic directories (source/synth plus
// hand-written awkward values), reads them back through the adapter and
// compares semantically, ignoring order. It checks that a read is complete
// (also across pages), stable, valid, and all-or-nothing; that a cancelled
// context stops it; and, for sources that implement source.Incremental,
// that changes come back as exactly the changed objects and fold into the
// new state with source.Apply.
package sourcetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/provsync/provsync/source"
)

// ErrNotSupported is returned by a Harness method the fake provider cannot
// do; the tests that need it are skipped.
var ErrNotSupported = errors.New("sourcetest: not supported")

// Harness connects the suite to one adapter and its fake provider.
//
// Update and FailNext act on the provider behind the source Open returned
// last in the same test.
type Harness interface {
	// Open seeds a fresh fake provider with want, the users and groups in
	// scope, and returns a source reading it. The harness may add data
	// that is out of scope (unassigned users, other apps' groups, devices
	// in groups) that the source must leave out. It translates want into
	// the provider's terms (Google suspended flags, Entra accountEnabled,
	// OneLogin status codes) and cleans up with t.Cleanup.
	Open(ctx context.Context, t *testing.T, want *source.Directory) (source.Source, error)
	// Update changes the fake provider's data so that want is in scope,
	// recording changes as the provider would for incremental reads. It
	// returns ErrNotSupported if the fake cannot change its data.
	Update(ctx context.Context, t *testing.T, want *source.Directory) error
	// FailNext makes the next read fail partway through: the first page
	// succeeds and a later one fails (a 500 that outlasts retries, a
	// broken connection). The failure happens once. It returns
	// ErrNotSupported if the fake cannot fail.
	FailNext(t *testing.T) error
}

// Option describes what the provider behind a harness can represent, so
// that the suite seeds and compares only that.
type Option func(*config)

type config struct {
	noDisplay  bool
	states     []source.State
	userAttrs  []string
	groupAttrs []string
	large      int
}

// WithStates lists the user states the provider can report; fixtures use
// only these. The default is all three: active, suspended and deleted.
func WithStates(states ...source.State) Option {
	return func(c *config) { c.states = states }
}

// WithUserAttributes names user attributes the source must return as
// seeded, compared by value through User.Attr (so built-in names such as
// "deletedAt" work too). Fixture users carry the attributes listed in
// source/synth (department, jobTitle, employeeId, managerId, ...). By
// default no attribute is compared, only the fields every provider has:
// id, user name and primary email (ignoring case), given, family and
// display name, and state.
func WithUserAttributes(names ...string) Option {
	return func(c *config) { c.userAttrs = names }
}

// WithGroupAttributes names group attributes the source must return as
// seeded, such as "email" and "description". By default a group's id,
// display name, members and member groups are compared.
func WithGroupAttributes(names ...string) Option {
	return func(c *config) { c.groupAttrs = names }
}

// WithoutDisplayName is for providers that have no display name of their
// own (OneLogin), whose sources derive it from the given and family
// names: the suite does not compare display names.
func WithoutDisplayName() Option { return func(c *config) { c.noDisplay = true } }

// WithLargeDirectory sets the number of users of the large fixture, which
// should span several of the provider's pages; the default is 1,500.
func WithLargeDirectory(users int) Option {
	return func(c *config) { c.large = users }
}

func (c *config) allows(s source.State) bool {
	for _, a := range c.states {
		if a == s {
			return true
		}
	}
	return false
}

// Run runs the whole suite against h.
func Run(t *testing.T, h Harness, opts ...Option) {
	cfg := &config{
		states: []source.State{source.StateActive, source.StateSuspended, source.StateDeleted},
		large:  1500,
	}
	for _, o := range opts {
		o(cfg)
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Harness, *config)
	}{
		{"ReadExact", testReadExact},
		{"ReadEmpty", testReadEmpty},
		{"AwkwardValues", testAwkwardValues},
		{"StableAcrossReads", testStable},
		{"LargeDirectory", testLarge},
		{"FailurePartway", testFailurePartway},
		{"CancelledContext", testCancelled},
		{"ReadAfterUpdate", testReadAfterUpdate},
		{"Incremental", testIncremental},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, h, cfg) })
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func open(ctx context.Context, t *testing.T, h Harness, want *source.Directory) source.Source {
	t.Helper()
	src, err := h.Open(ctx, t, want.Clone())
	if err != nil {
		t.Fatalf("Harness.Open: %v", err)
	}
	if src == nil {
		t.Fatal("Harness.Open returned no source")
	}
	return src
}

// mustRead reads src and checks what every read must satisfy.
func mustRead(ctx context.Context, t *testing.T, src source.Source) *source.Directory {
	t.Helper()
	got, err := src.Read(ctx)
	if err != nil {
		t.Fatalf("%s: Read: %v", src.Name(), err)
	}
	if got == nil {
		t.Fatalf("%s: Read returned neither a directory nor an error", src.Name())
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("%s: Read returned an invalid directory:\n%v", src.Name(), err)
	}
	return got
}

// expectSame fails the test if got differs from want.
func expectSame(t *testing.T, what string, want, got *source.Directory, cfg *config) {
	t.Helper()
	if d := diff(want, got, cfg); len(d) > 0 {
		t.Fatalf("%s differs from what the provider holds:\n%s", what, formatDiff(d))
	}
}

func testReadExact(t *testing.T, h Harness, cfg *config) {
	ctx := ctxFor(t)
	want := fixture(cfg, 60, 14, 3, 1)
	src := open(ctx, t, h, want)
	if src.Name() == "" {
		t.Error("Name() is empty")
	}
	expectSame(t, "Read", want, mustRead(ctx, t, src), cfg)
}

func testReadEmpty(t *testing.T, h Harness, cfg *config) {
	ctx := ctxFor(t)
	src := open(ctx, t, h, &source.Directory{})
	got := mustRead(ctx, t, src)
	if len(got.Users) != 0 || len(got.Groups) != 0 {
		t.Fatalf("Read of an empty provider returned %d users and %d groups", len(got.Users), len(got.Groups))
	}
}

func testAwkwardValues(t *testing.T, h Harness, cfg *config) {
	ctx := ctxFor(t)
	want := awkward(cfg)
	src := open(ctx, t, h, want)
	expectSame(t, "Read", want, mustRead(ctx, t, src), cfg)
}

func testStable(t *testing.T, h Harness, cfg *config) {
	ctx := ctxFor(t)
	want := fixture(cfg, 40, 6, 2, 2)
	src := open(ctx, t, h, want)
	first := mustRead(ctx, t, src)
	second := mustRead(ctx, t, src)
	if d := diff(first, second, cfg); len(d) > 0 {
		t.Fatalf("two reads of an unchanged provider differ:\n%s", formatDiff(d))
	}
	expectSame(t, "Read", want, second, cfg)
}

func testLarge(t *testing.T, h Harness, cfg *config) {
	ctx := ctxFor(t)
	want := largeFixture(cfg)
	src := open(ctx, t, h, want)
	expectSame(t, "Read of a large directory", want, mustRead(ctx, t, src), cfg)
}

func testFailurePartway(t *testing.T, h Harness, cfg *config) {
	ctx := ctxFor(t)
	want := largeFixture(cfg)
	src := open(ctx, t, h, want)
	if err := h.FailNext(t); errors.Is(err, ErrNotSupported) {
		t.Skip("the harness cannot inject failures")
	} else if err != nil {
		t.Fatalf("Harness.FailNext: %v", err)
	}
	got, err := src.Read(ctx)
	if err == nil {
		t.Fatalf("Read succeeded although the provider failed partway (%d users)", len(got.Users))
	}
	if got != nil {
		t.Fatalf("Read returned a directory (%d users) with its error %v; a failed read must return none", len(got.Users), err)
	}
	if !errors.Is(err, source.ErrUnavailable) && !errors.Is(err, source.ErrIncomplete) && !errors.Is(err, source.ErrInvalid) {
		t.Errorf("Read error %q matches none of source.ErrUnavailable, ErrIncomplete, ErrInvalid", err)
	}
	// The failure was one-off: the next read is complete.
	expectSame(t, "Read after a failed read", want, mustRead(ctx, t, src), cfg)
}

func testCancelled(t *testing.T, h Harness, cfg *config) {
	ctx := ctxFor(t)
	src := open(ctx, t, h, fixture(cfg, 30, 4, 2, 3))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	got, err := src.Read(cctx)
	if err == nil || got != nil {
		t.Fatalf("Read with a cancelled context = %v, %v; want no directory and an error", got != nil, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: error %q does not match context.Canceled", err)
	}
	if inc, ok := src.(source.Incremental); ok {
		ch, err := inc.ReadChanges(cctx, "")
		if err == nil || ch != nil || !errors.Is(err, context.Canceled) {
			t.Errorf("ReadChanges with a cancelled context = %v, %v; want nil and context.Canceled", ch != nil, err)
		}
	}
}

func testReadAfterUpdate(t *testing.T, h Harness, cfg *config) {
	ctx := ctxFor(t)
	base := fixture(cfg, 50, 8, 3, 4)
	src := open(ctx, t, h, base)
	mustRead(ctx, t, src)
	next, _ := change(base)
	if err := h.Update(ctx, t, next.Clone()); errors.Is(err, ErrNotSupported) {
		t.Skip("the harness cannot change the provider's data")
	} else if err != nil {
		t.Fatalf("Harness.Update: %v", err)
	}
	expectSame(t, "Read after a change", next, mustRead(ctx, t, src), cfg)
}
