package entra_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/entra"
	"github.com/provsync/provsync/source/entra/graphtest"
)

type badCredential struct{}

func (badCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "not-a-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// canon renders a directory in a stable form for comparison.
func canon(d *source.Directory) string {
	c := d.Clone()
	slices.SortFunc(c.Users, func(a, b source.User) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(c.Groups, func(a, b source.Group) int { return strings.Compare(a.ID, b.ID) })
	var b strings.Builder
	for _, u := range c.Users {
		fmt.Fprintf(&b, "user %s %q %v %q %q %q %v %v\n", u.ID, u.UserName, u.Emails, u.GivenName, u.FamilyName, u.DisplayName, u.State, u.Attributes)
	}
	for _, g := range c.Groups {
		m := slices.Clone(g.Members)
		slices.Sort(m)
		fmt.Fprintf(&b, "group %s %q %q %q %v\n", g.ID, g.DisplayName, g.Email, g.Description, m)
	}
	return b.String()
}

func readChanges(t *testing.T, s *entra.Source, cursor string) *source.Changes {
	t.Helper()
	ch, err := s.ReadChanges(ctx(t), cursor)
	if err != nil {
		t.Fatalf("ReadChanges: %v", err)
	}
	if ch.Cursor == "" {
		t.Fatal("no cursor")
	}
	return ch
}

// applyAndCompare folds ch into prev and checks the result is what a
// full read returns now.
func applyAndCompare(t *testing.T, s *entra.Source, prev *source.Directory, ch *source.Changes) *source.Directory {
	t.Helper()
	next, err := source.Apply(prev, ch)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got, want := canon(next), canon(read(t, s)); got != want {
		t.Fatalf("snapshot + changes:\n%s\nfull read:\n%s", got, want)
	}
	return next
}

func ids(us []source.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.ID)
	}
	slices.Sort(out)
	return out
}

func gids(gs []source.Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ID)
	}
	slices.Sort(out)
	return out
}

func TestDeltaChanges(t *testing.T) {
	tn := newTenant(t)
	u := map[string]string{}
	for _, n := range []string{"ren", "dis", "del", "unassign", "leaver", "stay", "both", "dropped", "newbie", "other"} {
		u[n] = tn.user(n + "@contoso.com")
	}
	sales := tn.group("Sales", u["leaver"], u["stay"], u["both"])
	ops := tn.group("Ops", u["both"], u["dropped"])
	later := tn.group("Later", u["other"])
	for _, n := range []string{"ren", "dis", "del", "unassign", "stay"} {
		tn.assign(u[n])
	}
	tn.assign(u["unassign"], tn.role) // assigned twice: both must go
	tn.assign(sales)
	opsAid := tn.assign(ops)
	s := tn.open()
	full := readChanges(t, s, "")
	if !full.Full || len(full.Users) != 8 || len(full.Groups) != 2 {
		t.Fatalf("first read: full %v, %d users, %d groups", full.Full, len(full.Users), len(full.Groups))
	}
	prev, err := source.Apply(nil, full)
	must(t, err)

	// Nothing changed.
	tn.srv.ResetStats()
	same := readChanges(t, s, full.Cursor)
	if !same.Empty() {
		t.Fatalf("no change: %+v", same)
	}
	t.Logf("an incremental read with nothing changed: %d requests: %q", tn.srv.Requests(), tn.srv.RequestLog())

	// Change everything at once.
	must(t, tn.srv.UpdateUser(u["ren"], func(x *graphtest.User) { x.UserPrincipalName, x.DisplayName = "renamed@contoso.com", "Renamed" }))
	must(t, tn.srv.UpdateUser(u["dis"], func(x *graphtest.User) { x.Disabled = true }))
	must(t, tn.srv.DeleteUser(u["del"]))
	for _, a := range assignmentsOf(t, tn, u["unassign"]) {
		must(t, tn.srv.Unassign(a))
	}
	must(t, tn.srv.RemoveMembers(sales, u["leaver"])) // in no other group: leaves scope
	must(t, tn.srv.RemoveMembers(sales, u["both"]))   // still in Ops
	must(t, tn.srv.AddMembers(sales, u["newbie"]))    // enters scope
	must(t, tn.srv.UpdateGroup(sales, func(g *graphtest.Group) { g.DisplayName = "Sales EMEA" }))
	must(t, tn.srv.Unassign(opsAid)) // Ops leaves; "dropped" with it, "both" too
	tn.assign(later)                 // Later enters with "other"
	must(t, tn.srv.UpdateUser(u["other"], func(x *graphtest.User) { x.JobTitle = "Boss" }))
	must(t, tn.srv.UpdateUser(u["stay"], func(x *graphtest.User) { x.Department = "HQ" }))

	ch := readChanges(t, s, full.Cursor)
	if ch.Full {
		t.Fatal("incremental read fell back to a full one")
	}
	if got, want := ids(ch.Users), sorted(u["ren"], u["dis"], u["newbie"], u["other"], u["stay"]); !slices.Equal(got, want) {
		t.Errorf("upserted users %v, want %v", got, want)
	}
	if got, want := sorted(ch.RemovedUsers...), sorted(u["del"], u["unassign"], u["leaver"], u["both"], u["dropped"]); !slices.Equal(got, want) {
		t.Errorf("removed users %v, want %v", got, want)
	}
	if got, want := gids(ch.Groups), sorted(sales, later); !slices.Equal(got, want) {
		t.Errorf("upserted groups %v, want %v", got, want)
	}
	if !slices.Equal(ch.RemovedGroups, []string{ops}) {
		t.Errorf("removed groups %v", ch.RemovedGroups)
	}
	for _, g := range ch.Groups {
		if g.ID == sales && (g.DisplayName != "Sales EMEA" || !slices.Equal(g.Members, sorted(u["stay"], u["newbie"]))) {
			t.Errorf("Sales: %+v", g)
		}
	}
	for _, x := range ch.Users {
		if x.ID == u["dis"] && x.State != source.StateSuspended {
			t.Errorf("disabled user: %v", x.State)
		}
	}
	next := applyAndCompare(t, s, prev, ch)

	// And then nothing again.
	again := readChanges(t, s, ch.Cursor)
	if !again.Empty() {
		t.Fatalf("after the changes, nothing changed: %+v", again)
	}
	applyAndCompare(t, s, next, again)
}

func assignmentsOf(t *testing.T, tn *tenant, principal string) []string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, tn.srv.URL()+"/servicePrincipals/"+tn.sp.ID+"/appRoleAssignedTo?$top=999", nil)
	tok, _ := tn.srv.Credential().GetToken(context.Background(), policy.TokenRequestOptions{})
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var body struct {
		Value []struct{ ID, PrincipalID string }
	}
	must(t, decodeJSON(resp, &body))
	var out []string
	for _, a := range body.Value {
		if a.PrincipalID == principal {
			out = append(out, a.ID)
		}
	}
	return out
}

// Membership changes deep below an assigned group reach it with Transitive.
func TestDeltaTransitive(t *testing.T) {
	tn := newTenant(t)
	a, b, c := tn.user("a@contoso.com"), tn.user("b@contoso.com"), tn.user("c@contoso.com")
	leaf := tn.group("Leaf", b)
	mid := tn.group("Mid", leaf)
	top := tn.group("Top", a, mid)
	tn.assign(top)
	s := tn.open(func(c *entra.Config) { c.Transitive = true })
	full := readChanges(t, s, "")
	prev, err := source.Apply(nil, full)
	must(t, err)
	if g := groupByID(prev, top); !slices.Equal(g.Members, sorted(a, b)) {
		t.Fatalf("Top: %v", g.Members)
	}
	must(t, tn.srv.AddMembers(leaf, c))
	must(t, tn.srv.RemoveMembers(leaf, b))
	ch := readChanges(t, s, full.Cursor)
	if ch.Full || !slices.Equal(ids(ch.Users), []string{c}) || !slices.Equal(ch.RemovedUsers, []string{b}) ||
		!slices.Equal(gids(ch.Groups), []string{top}) {
		t.Fatalf("changes: users %v, removed %v, groups %v", ids(ch.Users), ch.RemovedUsers, gids(ch.Groups))
	}
	applyAndCompare(t, s, prev, ch)
}

func TestDeltaExpired(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		code   string
	}{
		{"410 Gone", http.StatusGone, "syncStateNotFound"},
		{"400 syncStateInvalid", http.StatusBadRequest, "syncStateInvalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTenant(t, graphtest.WithExpiredTokenResponse(tc.status, tc.code))
			a := tn.user("a@contoso.com")
			tn.assign(a)
			s := tn.open()
			full := readChanges(t, s, "")
			tn.srv.ExpireDeltaTokens()
			b := tn.user("b@contoso.com")
			tn.assign(b)
			ch := readChanges(t, s, full.Cursor)
			if !ch.Full || !slices.Equal(ids(ch.Users), sorted(a, b)) {
				t.Fatalf("after expiry: full %v, users %v", ch.Full, ids(ch.Users))
			}
			if tn.logs.FilterMessage("incremental read not possible; reading everything").Len() != 1 {
				t.Error("the fallback was not logged")
			}
			// The new cursor works.
			if again := readChanges(t, s, ch.Cursor); !again.Empty() {
				t.Fatalf("after the fallback: %+v", again)
			}
		})
	}
}

func TestCursorOtherSettings(t *testing.T) {
	tn := newTenant(t)
	tn.assign(tn.user("a@contoso.com"))
	full := readChanges(t, tn.open(), "")
	ch := readChanges(t, tn.open(func(c *entra.Config) { c.UserAttributes = []string{"city"} }), full.Cursor)
	if !ch.Full {
		t.Error("a cursor made with other settings was used")
	}
	if ch := readChanges(t, tn.open(), "entra0.an-older-format"); !ch.Full {
		t.Error("a cursor of an older version was not replaced by a full read")
	}
	_, err := tn.open().ReadChanges(ctx(t), "garbage")
	if !errors.Is(err, source.ErrInvalid) {
		t.Errorf("garbage cursor: %v", err)
	}
	if strings.Contains(full.Cursor, tn.srv.ClientSecret()) {
		t.Error("the cursor holds a secret")
	}
}

func TestScopeAll(t *testing.T) {
	tn := newTenant(t, graphtest.WithDeltaPageSize(7), graphtest.WithDeltaMembersPerObject(3))
	var us []string
	for i := 0; i < 30; i++ {
		us = append(us, tn.user(fmt.Sprintf("u%02d@contoso.com", i)))
	}
	big := tn.group("Big", us[:20]...)
	small := tn.group("Small", us[18:25]...)
	must(t, tn.srv.AddMembers(small, tn.srv.AddDevice("PC"), big))
	s := tn.open(func(c *entra.Config) { c.Scope, c.ServicePrincipalID = entra.ScopeAll, "" })
	full := readChanges(t, s, "")
	prev, err := source.Apply(nil, full)
	must(t, err)
	if len(prev.Users) != 30 || len(prev.Groups) != 2 || len(groupByID(prev, big).Members) != 20 || len(groupByID(prev, small).Members) != 7 {
		t.Fatalf("full read: %d users, groups %+v", len(prev.Users), prev.Groups)
	}
	if tn.srv.RequestsTo(graphtest.RouteServicePrincipal) != 0 {
		t.Error("scope all read the app")
	}
	if got := canon(read(t, s)); got != canon(prev) {
		t.Fatalf("Read and ReadChanges differ:\n%s\n%s", got, canon(prev))
	}
	nu := tn.user("new@contoso.com")
	must(t, tn.srv.AddMembers(small, nu))
	must(t, tn.srv.DeleteUser(us[0]))
	must(t, tn.srv.UpdateUser(us[29], func(x *graphtest.User) { x.GivenName = "Changed" }))
	must(t, tn.srv.DeleteGroup(big))
	ch := readChanges(t, s, full.Cursor)
	if ch.Full || !slices.Equal(ids(ch.Users), sorted(nu, us[29])) || !slices.Equal(ch.RemovedUsers, []string{us[0]}) ||
		!slices.Equal(gids(ch.Groups), []string{small}) || !slices.Equal(ch.RemovedGroups, []string{big}) {
		t.Fatalf("changes: users %v removed %v groups %v removed %v", ids(ch.Users), ch.RemovedUsers, gids(ch.Groups), ch.RemovedGroups)
	}
	applyAndCompare(t, s, prev, ch)

	// Transitive: members of nested groups; a group change reads everything again.
	st := tn.open(func(c *entra.Config) { c.Scope, c.ServicePrincipalID, c.Transitive = entra.ScopeAll, "", true })
	fullT := readChanges(t, st, "")
	dirT, err := source.Apply(nil, fullT)
	must(t, err)
	if got := len(groupByID(dirT, small).Members); got != 8 {
		t.Errorf("transitive Small: %d members", got)
	}
	must(t, tn.srv.RemoveMembers(small, nu))
	if ch := readChanges(t, st, fullT.Cursor); !ch.Full {
		t.Error("a group change with Transitive did not read everything")
	}
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
