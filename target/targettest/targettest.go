// Package targettest is the conformance suite every target.Target passes,
// in the manner of go-cloud's drivertest: the contract is written once here
// and each adapter runs it against its server through a Harness.
package targettest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

// Harness gives the suite a fresh target for each test.
type Harness interface {
	// Open returns a target over an empty directory. The harness cleans it
	// up with t.Cleanup.
	Open(t *testing.T) target.Target
	// Throttle makes the server behind the target last opened answer its
	// next n requests with 429 and a Retry-After, so the suite can check
	// the target waits and retries. It returns false if the server cannot.
	Throttle(t *testing.T, n int) bool
}

// Liar is implemented by harnesses whose server can page its lists
// inconsistently. The suite then checks that the target refuses such a
// listing with target.ErrIncomplete rather than return fewer objects.
type Liar interface {
	// Lie makes the server behind the target last opened page its list
	// responses in the n-th inconsistent way it knows (n from 0) and
	// returns a name for it, or "" when it knows no n-th way. A negative
	// n ends the lie.
	Lie(t *testing.T, n int) string
}

// Run runs the whole suite against h.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"CreateAndRead", testCreateAndRead},
		{"DuplicateConflicts", testDuplicateConflicts},
		{"PatchSingleValued", testPatchSingleValued},
		{"PatchMultiValued", testPatchMultiValued},
		{"Replace", testReplace},
		{"Membership", testMembership},
		{"Paging", testPaging},
		{"DeleteThenNotFound", testDelete},
		{"FilterEscaping", testFilterEscaping},
		{"RetryAfterRateLimit", testRetryAfterRateLimit},
		{"InconsistentPages", testInconsistentPages},
		{"Streamer", testStreamer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, h) })
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newUser(i int, prefix string) *scim.User {
	return &scim.User{
		ExternalID:  fmt.Sprintf("%s-ext-%04d", prefix, i),
		UserName:    fmt.Sprintf("%s.user%04d@example.com", prefix, i),
		Name:        &scim.Name{GivenName: "Given" + fmt.Sprint(i), FamilyName: "Family"},
		DisplayName: fmt.Sprintf("User %d", i),
		Active:      scim.Bool(true),
		Emails:      []scim.Email{{Value: fmt.Sprintf("%s.user%04d@example.com", prefix, i), Type: "work", Primary: true}},
	}
}

func mustCreateUser(ctx context.Context, t *testing.T, tg target.Target, u *scim.User) *scim.User {
	t.Helper()
	got, err := tg.CreateUser(ctx, u)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", u.UserName, err)
	}
	if got.ID == "" {
		t.Fatalf("CreateUser(%s) returned no id", u.UserName)
	}
	return got
}

func testCreateAndRead(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	in := newUser(1, "cr")
	in.Name.GivenName = "Zoë"
	in.Enterprise = &scim.EnterpriseUser{Department: "R&D", EmployeeNumber: "E-1"}
	created := mustCreateUser(ctx, t, tg, in)
	got, err := tg.GetUser(ctx, created.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if got.ID != created.ID || got.UserName != in.UserName || got.ExternalID != in.ExternalID ||
		got.Name == nil || got.Name.GivenName != "Zoë" || got.Name.FamilyName != "Family" ||
		!got.IsActive() || got.PrimaryEmail() != in.Emails[0].Value {
		t.Errorf("read back %+v, want the created user %+v", got, in)
	}
	if got.Enterprise == nil || got.Enterprise.Department != "R&D" {
		t.Errorf("enterprise extension lost: %+v", got.Enterprise)
	}

	g, err := tg.CreateGroup(ctx, &scim.Group{DisplayName: "Readers", ExternalID: "g-ext-1",
		Members: scim.MemberValues([]string{created.ID})})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	rg, err := tg.GetGroup(ctx, g.ID, target.WithMembers())
	if err != nil {
		t.Fatalf("GetGroup: %v", err)
	}
	if rg.DisplayName != "Readers" || rg.ExternalID != "g-ext-1" || !sameIDs(rg.MemberIDs(), []string{created.ID}) {
		t.Errorf("group read back as %+v", rg)
	}
	if _, err := tg.GetUser(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, target.ErrNotFound) {
		t.Errorf("GetUser(unknown) = %v, want ErrNotFound", err)
	}
}

func testDuplicateConflicts(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	u := newUser(1, "dup")
	mustCreateUser(ctx, t, tg, u)
	again := newUser(2, "dup")
	again.UserName = strings.ToUpper(u.UserName)
	_, err := tg.CreateUser(ctx, again)
	if !errors.Is(err, target.ErrConflict) {
		t.Fatalf("second CreateUser with the same userName in other case = %v, want ErrConflict", err)
	}
	var te *target.Error
	if !errors.As(err, &te) || te.Status != 409 {
		t.Errorf("conflict error does not carry the 409: %#v", err)
	}
	if _, err := tg.CreateGroup(ctx, &scim.Group{DisplayName: "Team"}); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if _, err := tg.CreateGroup(ctx, &scim.Group{DisplayName: "team"}); !errors.Is(err, target.ErrConflict) {
		t.Errorf("second CreateGroup with the same displayName = %v, want ErrConflict", err)
	}
}

func testPatchSingleValued(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	u := mustCreateUser(ctx, t, tg, newUser(1, "ps"))
	err := tg.PatchUser(ctx, u.ID,
		scim.Replace("active", false),
		scim.Replace("name.givenName", "Renée"),
		scim.Replace("displayName", "Renée Family"),
		scim.Replace(scim.SchemaEnterpriseUser+":department", "Sales"),
	)
	if err != nil {
		t.Fatalf("PatchUser: %v", err)
	}
	got, err := tg.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if got.IsActive() || got.Name.GivenName != "Renée" || got.DisplayName != "Renée Family" {
		t.Errorf("patch not applied: %+v", got)
	}
	if got.Enterprise == nil || got.Enterprise.Department != "Sales" {
		t.Errorf("enterprise patch not applied: %+v", got.Enterprise)
	}
	if got.UserName != u.UserName || got.PrimaryEmail() != u.PrimaryEmail() {
		t.Errorf("patch changed attributes it did not name: %+v", got)
	}
	g, err := tg.CreateGroup(ctx, &scim.Group{DisplayName: "Old"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.PatchGroup(ctx, g.ID, scim.Replace("displayName", "New")); err != nil {
		t.Fatalf("PatchGroup: %v", err)
	}
	rg, err := tg.GetGroup(ctx, g.ID)
	if err != nil || rg.DisplayName != "New" {
		t.Errorf("group rename: %+v, %v", rg, err)
	}
}

func testPatchMultiValued(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	u := mustCreateUser(ctx, t, tg, newUser(1, "pm"))
	emails := []scim.Email{{Value: "new@example.com", Type: "work", Primary: true}}
	if err := tg.PatchUser(ctx, u.ID, scim.Replace("emails", emails)); err != nil {
		t.Fatalf("PatchUser emails: %v", err)
	}
	got, err := tg.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Emails) != 1 || got.PrimaryEmail() != "new@example.com" {
		t.Errorf("emails after replace = %+v", got.Emails)
	}
}

func testReplace(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	u := mustCreateUser(ctx, t, tg, newUser(1, "rp"))
	next := newUser(1, "rp")
	next.DisplayName = "Replaced"
	next.Active = scim.Bool(false)
	if _, err := tg.ReplaceUser(ctx, u.ID, next); err != nil {
		t.Fatalf("ReplaceUser: %v", err)
	}
	got, err := tg.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != "Replaced" || got.IsActive() || got.ID != u.ID {
		t.Errorf("replace not applied: %+v", got)
	}
}

func testMembership(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, mustCreateUser(ctx, t, tg, newUser(i, "mb")).ID)
	}
	g, err := tg.CreateGroup(ctx, &scim.Group{DisplayName: "Members"})
	if err != nil {
		t.Fatal(err)
	}
	members := func() []string {
		t.Helper()
		rg, err := tg.GetGroup(ctx, g.ID, target.WithMembers())
		if err != nil {
			t.Fatalf("GetGroup: %v", err)
		}
		return rg.MemberIDs()
	}
	if err := tg.AddMembers(ctx, g.ID, ids[:4]); err != nil {
		t.Fatalf("AddMembers: %v", err)
	}
	if got := members(); !sameIDs(got, ids[:4]) {
		t.Errorf("after add: %v, want %v", got, ids[:4])
	}
	if err := tg.AddMembers(ctx, g.ID, ids[3:]); err != nil {
		t.Fatalf("AddMembers with one already a member: %v", err)
	}
	if err := tg.RemoveMembers(ctx, g.ID, ids[:2]); err != nil {
		t.Fatalf("RemoveMembers: %v", err)
	}
	if got := members(); !sameIDs(got, ids[2:]) {
		t.Errorf("after remove: %v, want %v", got, ids[2:])
	}
	if err := tg.AddMembers(ctx, g.ID, nil); err != nil {
		t.Errorf("AddMembers(nil): %v", err)
	}
	groups, err := tg.ListGroups(ctx, target.WithMembers())
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	if len(groups) != 1 || !sameIDs(groups[0].MemberIDs(), ids[2:]) {
		t.Errorf("ListGroups with members = %+v", groups)
	}
}

func testPaging(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	const n = 253
	want := make([]string, 0, n)
	for i := range n {
		want = append(want, mustCreateUser(ctx, t, tg, newUser(i, "pg")).ID)
	}
	users, err := tg.ListUsers(ctx)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	got := make([]string, 0, len(users))
	seen := map[string]bool{}
	for _, u := range users {
		if seen[u.ID] {
			t.Errorf("user %s listed twice", u.ID)
		}
		seen[u.ID] = true
		got = append(got, u.ID)
	}
	if !sameIDs(got, want) {
		t.Errorf("listed %d users, want the %d created (gap or stranger)", len(got), len(want))
	}
	for i := range 7 {
		if _, err := tg.CreateGroup(ctx, &scim.Group{DisplayName: fmt.Sprintf("Group %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	groups, err := tg.ListGroups(ctx)
	if err != nil || len(groups) != 7 {
		t.Errorf("ListGroups = %d groups, %v; want 7", len(groups), err)
	}
}

func testDelete(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	u := mustCreateUser(ctx, t, tg, newUser(1, "del"))
	g, err := tg.CreateGroup(ctx, &scim.Group{DisplayName: "Doomed", Members: scim.MemberValues([]string{u.ID})})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := tg.GetUser(ctx, u.ID); !errors.Is(err, target.ErrNotFound) {
		t.Errorf("GetUser after delete = %v, want ErrNotFound", err)
	}
	if err := tg.DeleteUser(ctx, u.ID); !errors.Is(err, target.ErrNotFound) {
		t.Errorf("second DeleteUser = %v, want ErrNotFound", err)
	}
	if err := tg.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	if _, err := tg.GetGroup(ctx, g.ID); !errors.Is(err, target.ErrNotFound) {
		t.Errorf("GetGroup after delete = %v, want ErrNotFound", err)
	}
}

func testFilterEscaping(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	tricky := `a" or userName pr or "b`
	for _, name := range []string{tricky, "a", "b", `back\slash`} {
		u := newUser(0, "f")
		u.UserName, u.ExternalID = name, "ext:"+name
		mustCreateUser(ctx, t, tg, u)
	}
	for _, name := range []string{tricky, `back\slash`, "A"} {
		got, err := tg.ListUsers(ctx, target.WithFilter(scim.Eq("userName", name)))
		if err != nil {
			t.Fatalf("ListUsers(userName eq %q): %v", name, err)
		}
		if len(got) != 1 || !strings.EqualFold(got[0].UserName, name) {
			t.Errorf("userName eq %q matched %d users: %+v", name, len(got), got)
		}
	}
	got, err := tg.ListUsers(ctx, target.WithFilter(scim.Eq("externalId", "ext:"+tricky)))
	if err != nil || len(got) != 1 || got[0].UserName != tricky {
		t.Errorf("externalId eq matched %+v, %v", got, err)
	}
	none, err := tg.ListUsers(ctx, target.WithFilter(scim.Eq("userName", "nobody")))
	if err != nil || len(none) != 0 {
		t.Errorf("filter for an absent user = %+v, %v", none, err)
	}
}

func testRetryAfterRateLimit(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	u := mustCreateUser(ctx, t, tg, newUser(1, "rl"))
	if !h.Throttle(t, 2) {
		t.Skip("the harness cannot throttle its server")
	}
	got, err := tg.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatalf("GetUser through two 429s: %v", err)
	}
	if got.ID != u.ID {
		t.Errorf("got %s, want %s", got.ID, u.ID)
	}
}

// testInconsistentPages: a listing whose pages contradict each other is
// target.ErrIncomplete, never a shorter list.
func testInconsistentPages(t *testing.T, h Harness) {
	l, ok := h.(Liar)
	if !ok {
		t.Skip("the harness cannot make its server page inconsistently")
	}
	ctx, tg := ctxFor(t), h.Open(t)
	const n = 253
	for i := range n {
		mustCreateUser(ctx, t, tg, newUser(i, "lie"))
	}
	for i := 0; ; i++ {
		name := l.Lie(t, i)
		if name == "" {
			if i == 0 {
				t.Skip("the harness knows no inconsistent paging")
			}
			break
		}
		users, err := tg.ListUsers(ctx)
		if !errors.Is(err, target.ErrIncomplete) || users != nil {
			t.Errorf("%s: ListUsers = %d users, %v; want none and ErrIncomplete", name, len(users), err)
		}
		if s, ok := tg.(target.Streamer); ok {
			if _, err := collect(s.ListUsersSeq(ctx)); !errors.Is(err, target.ErrIncomplete) {
				t.Errorf("%s: ListUsersSeq ends with %v; want ErrIncomplete", name, err)
			}
		}
	}
	l.Lie(t, -1)
	if users, err := tg.ListUsers(ctx); err != nil || len(users) != n {
		t.Errorf("after the lie: ListUsers = %d users, %v; want %d", len(users), err, n)
	}
}

// testStreamer checks that a target.Streamer yields what ListUsers and
// ListGroups return, in the same order, each object its own once copied,
// and stops when the loop breaks.
func testStreamer(t *testing.T, h Harness) {
	ctx, tg := ctxFor(t), h.Open(t)
	s, ok := tg.(target.Streamer)
	if !ok {
		t.Skip("the target is not a target.Streamer")
	}
	var ids []string
	for i := range 253 {
		ids = append(ids, mustCreateUser(ctx, t, tg, newUser(i, "st")).ID)
	}
	for i := range 3 {
		if _, err := tg.CreateGroup(ctx, &scim.Group{DisplayName: fmt.Sprintf("Stream %d", i),
			Members: []scim.Member{{Value: ids[i]}, {Value: ids[i+100]}}}); err != nil {
			t.Fatal(err)
		}
	}
	users, err := tg.ListUsers(ctx)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	streamed, err := collect(s.ListUsersSeq(ctx))
	if err != nil || !reflect.DeepEqual(streamed, users) {
		t.Errorf("ListUsersSeq = %d users, %v; want the %d ListUsers returns, equal and in order", len(streamed), err, len(users))
	}
	groups, err := tg.ListGroups(ctx, target.WithMembers())
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	sg, err := collect(s.ListGroupsSeq(ctx, target.WithMembers()))
	if err != nil || !reflect.DeepEqual(sg, groups) || len(sg) != 3 || len(sg[0].Members) != 2 {
		t.Errorf("ListGroupsSeq = %+v, %v; want %+v", sg, err, groups)
	}
	n := 0
	for _, err := range s.ListUsersSeq(ctx) {
		if err != nil {
			t.Fatalf("ListUsersSeq: %v", err)
		}
		if n++; n == 2 {
			break
		}
	}
}

// collect copies what seq yields; the error ends it.
func collect[T any](seq iter.Seq2[*T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// sameIDs reports whether a and b hold the same ids in any order.
func sameIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
