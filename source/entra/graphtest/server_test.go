package graphtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/provsync/provsync/source/entra/graphtest"
)

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// client does raw Graph calls with the server's static token.
type client struct {
	t   *testing.T
	srv *graphtest.Server
	tok string
}

func newClient(t *testing.T, srv *graphtest.Server) *client {
	tok, err := srv.Credential().GetToken(context.Background(), policy.TokenRequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, srv: srv, tok: tok.Token}
}

// get fetches a path below /v1.0 (or an absolute URL) and decodes the body.
func (c *client) get(pathOrURL string) (int, http.Header, map[string]any) {
	c.t.Helper()
	u := pathOrURL
	if !strings.HasPrefix(u, "http") {
		u = c.srv.URL() + pathOrURL
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if c.tok != "" {
		req.Header.Set("Authorization", "Bearer "+c.tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		c.t.Fatalf("GET %s: decoding: %v", u, err)
	}
	return resp.StatusCode, resp.Header, body
}

// all follows nextLinks and returns every item and the final deltaLink.
func (c *client) all(path string) ([]map[string]any, string, int) {
	c.t.Helper()
	var items []map[string]any
	pages := 0
	for next := path; next != ""; {
		st, _, body := c.get(next)
		if st != http.StatusOK {
			c.t.Fatalf("GET %s: %d %v", next, st, body)
		}
		pages++
		for _, v := range body["value"].([]any) {
			items = append(items, v.(map[string]any))
		}
		next, _ = body["@odata.nextLink"].(string)
		if dl, ok := body["@odata.deltaLink"].(string); ok {
			return items, dl, pages
		}
	}
	return items, "", pages
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestAuthorization(t *testing.T) {
	srv := graphtest.New(t)
	c := newClient(t, srv)
	c.tok = ""
	st, _, body := c.get("/users")
	if st != http.StatusUnauthorized || errCode(body) != "InvalidAuthenticationToken" {
		t.Fatalf("no token: %d %v", st, body)
	}
	inner := body["error"].(map[string]any)["innerError"].(map[string]any)
	if !guid.MatchString(inner["request-id"].(string)) {
		t.Errorf("request-id %v", inner["request-id"])
	}
}

func TestAssignmentsPaging(t *testing.T) {
	srv := graphtest.New(t)
	sp := srv.AddServicePrincipal(graphtest.ServicePrincipal{DisplayName: "Netskope User Authentication", AppRoleAssignmentRequired: true})
	if !guid.MatchString(sp.ID) || !guid.MatchString(sp.AppID) || !guid.MatchString(sp.AppRoles[0].ID) {
		t.Fatalf("ids are not GUIDs: %+v", sp)
	}
	for i := 0; i < 2100; i++ {
		u := srv.AddUser(graphtest.User{UserPrincipalName: fmt.Sprintf("u%d@contoso.com", i), DisplayName: fmt.Sprint("U ", i)})
		if _, err := srv.Assign(sp.ID, u.ID, sp.AppRoles[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, srv)
	items, _, pages := c.all("/servicePrincipals/" + sp.ID + "/appRoleAssignedTo?$top=999")
	if len(items) != 2100 || pages != 3 {
		t.Fatalf("got %d items in %d pages, want 2100 in 3", len(items), pages)
	}
	seen := map[string]bool{}
	for _, a := range items {
		if a["principalType"] != "User" || a["resourceId"] != sp.ID || seen[a["id"].(string)] {
			t.Fatalf("bad or duplicate assignment %v", a)
		}
		seen[a["id"].(string)] = true
	}
	// Default page size 100; the appId key form.
	_, _, pages = c.all("/servicePrincipals(appId='" + sp.AppID + "')/appRoleAssignedTo")
	if pages != 21 {
		t.Errorf("default paging: %d pages, want 21", pages)
	}
	st, _, body := c.get("/servicePrincipals/" + sp.ID + "/appRoleAssignedTo?$top=1000")
	if st != http.StatusBadRequest {
		t.Errorf("$top=1000: %d %v", st, body)
	}
	st, _, body = c.get("/servicePrincipals/" + sp.ID)
	roles := body["appRoles"].([]any)
	if st != 200 || body["appRoleAssignmentRequired"] != true || len(roles) != 1 || roles[0].(map[string]any)["value"] != nil {
		t.Errorf("service principal: %d %v", st, body)
	}
	if n := srv.RequestsTo(graphtest.RouteAppRoleAssignedTo); n != 3+21+1 {
		t.Errorf("counted %d requests to appRoleAssignedTo", n)
	}
}

func TestSelectAndDefaults(t *testing.T) {
	srv := graphtest.New(t)
	u := srv.AddUser(graphtest.User{UserPrincipalName: "ada@contoso.com", GivenName: "Ada", Department: "R&D",
		Extra: map[string]any{"extension_1234_costCenter": "CC-7"}})
	c := newClient(t, srv)
	_, _, body := c.get("/users/" + u.ID)
	if _, ok := body["accountEnabled"]; ok {
		t.Errorf("accountEnabled is not in the default set: %v", body)
	}
	if _, ok := body["mail"]; !ok || body["mail"] != nil {
		t.Errorf("mail should be null in the default set: %v", body)
	}
	_, _, body = c.get("/users/" + u.ID + "?$select=id,department,accountEnabled,extension_1234_costCenter,city")
	want := map[string]any{"id": u.ID, "department": "R&D", "accountEnabled": true, "extension_1234_costCenter": "CC-7", "city": nil}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	if _, ok := body["givenName"]; ok {
		t.Errorf("givenName was not selected: %v", body)
	}
	st, _, body := c.get("/users?$select=id,shoeSize")
	if st != http.StatusBadRequest || !strings.Contains(body["error"].(map[string]any)["message"].(string), "shoeSize") {
		t.Errorf("unknown property: %d %v", st, body)
	}
	st, _, body = c.get("/users?$filter=" + url.QueryEscape("mail eq 'x'"))
	if st != http.StatusBadRequest {
		t.Errorf("$filter: %d %v", st, body)
	}
	st, _, body = c.get("/users/" + srv.NewID())
	if st != http.StatusNotFound || errCode(body) != "Request_ResourceNotFound" {
		t.Errorf("missing user: %d %v", st, body)
	}
}

func TestGuestByUPN(t *testing.T) {
	srv := graphtest.New(t)
	g := srv.AddUser(graphtest.User{UserPrincipalName: "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", Mail: "bob@fabrikam.com"})
	if g.UserType != "Guest" {
		t.Fatalf("userType %q", g.UserType)
	}
	c := newClient(t, srv)
	st, _, body := c.get("/users/" + url.PathEscape(g.UserPrincipalName) + "?$select=id,userType,mail")
	if st != 200 || body["id"] != g.ID || body["userType"] != "Guest" {
		t.Fatalf("by UPN: %d %v", st, body)
	}
}

func TestMembers(t *testing.T) {
	srv := graphtest.New(t)
	a := srv.AddUser(graphtest.User{UserPrincipalName: "a@contoso.com"})
	b := srv.AddUser(graphtest.User{UserPrincipalName: "b@contoso.com"})
	outer := srv.AddGroup(graphtest.Group{DisplayName: "Outer"})
	inner := srv.AddGroup(graphtest.Group{DisplayName: "Inner"})
	dev := srv.AddDevice("LAPTOP-01")
	con := srv.AddContact("Partner", "p@partner.example")
	app := srv.AddServicePrincipal(graphtest.ServicePrincipal{DisplayName: "Robot"})
	must(t, srv.AddMembers(outer.ID, a.ID, inner.ID, dev, con, app.ID))
	must(t, srv.AddMembers(inner.ID, b.ID, outer.ID)) // a cycle
	c := newClient(t, srv)
	items, _, _ := c.all("/groups/" + outer.ID + "/members?$select=id,userPrincipalName")
	types := map[string]string{}
	for _, m := range items {
		types[m["id"].(string)] = m["@odata.type"].(string)
	}
	want := map[string]string{a.ID: "#microsoft.graph.user", inner.ID: "#microsoft.graph.group", dev: "#microsoft.graph.device",
		con: "#microsoft.graph.orgContact", app.ID: "#microsoft.graph.servicePrincipal"}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("members: %v, want %v", types, want)
	}
	items, _, _ = c.all("/groups/" + outer.ID + "/transitiveMembers")
	if len(items) != 6 { // a, inner, dev, con, app, b
		t.Errorf("transitive members: %d: %v", len(items), items)
	}
	items, _, _ = c.all("/users/" + b.ID + "/transitiveMemberOf")
	if len(items) != 2 {
		t.Errorf("transitiveMemberOf: %v", items)
	}
	items, _, _ = c.all("/users/" + b.ID + "/memberOf")
	if len(items) != 1 || items[0]["id"] != inner.ID {
		t.Errorf("memberOf: %v", items)
	}
}

func TestUsersDelta(t *testing.T) {
	srv := graphtest.New(t, graphtest.WithDeltaPageSize(100))
	var ids []string
	for i := 0; i < 250; i++ {
		ids = append(ids, srv.AddUser(graphtest.User{UserPrincipalName: fmt.Sprintf("u%d@contoso.com", i)}).ID)
	}
	c := newClient(t, srv)
	items, delta, pages := c.all("/users/delta?$select=id,userPrincipalName,accountEnabled")
	if len(items) != 250 || pages != 3 || delta == "" {
		t.Fatalf("initial round: %d items, %d pages, deltaLink %q", len(items), pages, delta)
	}
	if _, ok := items[0]["accountEnabled"]; !ok {
		t.Errorf("$select not honoured: %v", items[0])
	}
	if _, ok := items[0]["givenName"]; ok {
		t.Errorf("$select not honoured: %v", items[0])
	}
	// No change: an empty page and a new deltaLink.
	items, delta, _ = c.all(delta)
	if len(items) != 0 || delta == "" {
		t.Fatalf("no changes: %v", items)
	}
	must(t, srv.UpdateUser(ids[3], func(u *graphtest.User) { u.Disabled = true }))
	must(t, srv.DeleteUser(ids[7]))
	items, delta, _ = c.all(delta)
	if len(items) != 2 || items[0]["id"] != ids[3] || items[0]["accountEnabled"] != false {
		t.Fatalf("changes: %v", items)
	}
	if rm, _ := items[1]["@removed"].(map[string]any); items[1]["id"] != ids[7] || rm["reason"] != "changed" {
		t.Fatalf("removal: %v", items[1])
	}
	// latest: no data, a link from now.
	items, latest, _ := c.all("/users/delta?$deltatoken=latest")
	if len(items) != 0 || latest == "" {
		t.Fatalf("latest: %v %q", items, latest)
	}
	srv.AddUser(graphtest.User{UserPrincipalName: "new@contoso.com"})
	items, _, _ = c.all(latest)
	if len(items) != 1 || items[0]["userPrincipalName"] != "new@contoso.com" {
		t.Fatalf("after latest: %v", items)
	}
	// Expiry.
	srv.ExpireDeltaTokens()
	st, h, body := c.get(delta)
	if st != http.StatusGone || errCode(body) != "syncStateNotFound" || h.Get("Location") == "" {
		t.Fatalf("expired: %d %v %v", st, h, body)
	}
}

func TestExpired400(t *testing.T) {
	srv := graphtest.New(t, graphtest.WithExpiredTokenResponse(http.StatusBadRequest, "syncStateInvalid"))
	c := newClient(t, srv)
	_, delta, _ := c.all("/groups/delta")
	srv.ExpireDeltaTokens()
	st, _, body := c.get(delta)
	if st != http.StatusBadRequest || errCode(body) != "syncStateInvalid" {
		t.Fatalf("expired: %d %v", st, body)
	}
}

func TestGroupsDelta(t *testing.T) {
	srv := graphtest.New(t, graphtest.WithDeltaMembersPerObject(2))
	a := srv.AddUser(graphtest.User{UserPrincipalName: "a@contoso.com"})
	b := srv.AddUser(graphtest.User{UserPrincipalName: "b@contoso.com"})
	x := srv.AddUser(graphtest.User{UserPrincipalName: "x@contoso.com"})
	g := srv.AddGroup(graphtest.Group{DisplayName: "Sales"})
	dev := srv.AddDevice("KIOSK")
	must(t, srv.AddMembers(g.ID, a.ID, b.ID, dev))
	c := newClient(t, srv)
	items, delta, _ := c.all("/groups/delta?$select=displayName,members")
	// Three members split in two objects of the same group.
	if len(items) != 2 || items[0]["id"] != g.ID || items[1]["id"] != g.ID || items[0]["displayName"] != "Sales" {
		t.Fatalf("initial: %v", items)
	}
	n := len(items[0]["members@delta"].([]any)) + len(items[1]["members@delta"].([]any))
	if n != 3 {
		t.Fatalf("members@delta: %d", n)
	}
	must(t, srv.RemoveMembers(g.ID, a.ID))
	must(t, srv.AddMembers(g.ID, x.ID))
	items, delta, _ = c.all(delta)
	if len(items) != 1 {
		t.Fatalf("changes: %v", items)
	}
	md := items[0]["members@delta"].([]any)
	if len(md) != 2 {
		t.Fatalf("members@delta: %v", md)
	}
	rm := md[0].(map[string]any)
	if rm["id"] != a.ID || rm["@removed"] == nil || rm["@odata.type"] != "#microsoft.graph.user" {
		t.Errorf("removed member: %v", rm)
	}
	if add := md[1].(map[string]any); add["id"] != x.ID || add["@removed"] != nil {
		t.Errorf("added member: %v", add)
	}
	must(t, srv.DeleteGroup(g.ID))
	items, _, _ = c.all(delta)
	if len(items) != 1 || items[0]["@removed"] == nil {
		t.Fatalf("deleted group: %v", items)
	}
}

func TestFaults(t *testing.T) {
	srv := graphtest.New(t)
	for i := 0; i < 30; i++ {
		srv.AddUser(graphtest.User{UserPrincipalName: fmt.Sprintf("u%d@contoso.com", i)})
	}
	c := newClient(t, srv)
	srv.Throttle(graphtest.RouteUsers, 1, 2)
	st, h, body := c.get("/users?$top=10")
	if st != http.StatusTooManyRequests || h.Get("Retry-After") != "2" || errCode(body) != "TooManyRequests" {
		t.Fatalf("throttled: %d %v %v", st, h, body)
	}
	srv.InjectFault(graphtest.Fault{Route: graphtest.RouteUsers, Page: 2, Status: http.StatusInternalServerError, Code: "UnknownError", Times: 1})
	st, _, body = c.get("/users?$top=10")
	if st != 200 {
		t.Fatalf("page 1: %d", st)
	}
	next := body["@odata.nextLink"].(string)
	if st, _, body = c.get(next); st != http.StatusInternalServerError || errCode(body) != "UnknownError" {
		t.Fatalf("page 2: %d %v", st, body)
	}
	if st, _, _ = c.get(next); st != 200 {
		t.Fatalf("page 2 again: %d", st)
	}
	if n := srv.Requests(); n != 4 {
		t.Errorf("requests %d, want 4", n)
	}
}

// The token endpoint serves azidentity's client secret credential.
func TestTokenEndpoint(t *testing.T) {
	srv := graphtest.New(t)
	opts := func() *azidentity.ClientSecretCredentialOptions {
		return &azidentity.ClientSecretCredentialOptions{
			ClientOptions: azcore.ClientOptions{
				Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.AuthorityHost()},
				Transport: srv.AuthorityClient(),
			},
			DisableInstanceDiscovery: true,
		}
	}
	cred, err := azidentity.NewClientSecretCredential(srv.TenantID(), srv.ClientID(), srv.ClientSecret(), opts())
	if err != nil {
		t.Fatal(err)
	}
	scope := strings.TrimSuffix(srv.URL(), "/v1.0") + "/.default"
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	c := newClient(t, srv)
	c.tok = tok.Token
	if st, _, body := c.get("/users"); st != 200 {
		t.Fatalf("issued token refused: %d %v", st, body)
	}
	bad, err := azidentity.NewClientSecretCredential(srv.TenantID(), srv.ClientID(), "wrong", opts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}}); err == nil ||
		!strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: %v", err)
	}
	if srv.TokenRequests() != 2 {
		t.Errorf("token requests %d", srv.TokenRequests())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestUsersCount(t *testing.T) {
	srv := graphtest.New(t)
	for i := 0; i < 7; i++ {
		srv.AddUser(graphtest.User{UserPrincipalName: fmt.Sprintf("u%d@contoso.com", i)})
	}
	c := newClient(t, srv)
	st, _, body := c.get("/users/$count")
	if st != http.StatusBadRequest || errCode(body) != "Request_BadRequest" {
		t.Fatalf("without ConsistencyLevel: %d %v", st, body)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/users/$count", nil)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("ConsistencyLevel", "eventual")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var n int
	if _, err := fmt.Fscan(resp.Body, &n); err != nil || n != 7 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("count: %d %v %q", n, err, resp.Header.Get("Content-Type"))
	}
}
