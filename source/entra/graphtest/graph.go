package graphtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// route is one parsed Graph request path.
type route struct {
	name   string
	id     string // the addressed object
	byApp  bool   // servicePrincipals(appId='...')
	parent string // users, groups, servicePrincipals
}

// parseRoute maps a path below /v1.0 to a route.
func parseRoute(p string) (route, bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) == 0 || segs[0] == "" {
		return route{}, false
	}
	head := segs[0]
	if rest, ok := strings.CutPrefix(head, "servicePrincipals(appId='"); ok {
		appID, ok := strings.CutSuffix(rest, "')")
		if !ok {
			return route{}, false
		}
		segs = append([]string{"servicePrincipals", appID}, segs[1:]...)
		return spRoute(segs, true)
	}
	switch head {
	case "servicePrincipals":
		return spRoute(segs, false)
	case "users", "groups":
		plural, single, delta := RouteUsers, RouteUser, RouteUsersDelta
		if head == "groups" {
			plural, single, delta = RouteGroups, RouteGroup, RouteGroupsDelta
		}
		switch {
		case len(segs) == 1:
			return route{name: plural, parent: head}, true
		case len(segs) == 2 && (segs[1] == "delta" || segs[1] == "delta()"):
			return route{name: delta, parent: head}, true
		case len(segs) == 2 && segs[1] == "$count" && head == "users":
			return route{name: RouteUsersCount, parent: head}, true
		case len(segs) == 2:
			return route{name: single, id: segs[1], parent: head}, true
		case len(segs) == 3:
			sub := map[string]string{}
			if head == "users" {
				sub = map[string]string{"memberOf": RouteMemberOf, "transitiveMemberOf": RouteTransitiveMemberOf}
			} else {
				sub = map[string]string{"members": RouteMembers, "transitiveMembers": RouteTransitiveMembers}
			}
			if n, ok := sub[segs[2]]; ok {
				return route{name: n, id: segs[1], parent: head}, true
			}
		}
	}
	return route{}, false
}

func spRoute(segs []string, byApp bool) (route, bool) {
	switch {
	case len(segs) == 2:
		return route{name: RouteServicePrincipal, id: segs[1], byApp: byApp, parent: "servicePrincipals"}, true
	case len(segs) == 3 && segs[2] == "appRoleAssignedTo":
		return route{name: RouteAppRoleAssignedTo, id: segs[1], byApp: byApp, parent: "servicePrincipals"}, true
	}
	return route{}, false
}

// pageToken is the $skiptoken of a paged list and the $skiptoken or
// $deltatoken of a delta round.
type pageToken struct {
	Kind    string `json:"k,omitempty"` // users or groups, delta only
	From    int64  `json:"f,omitempty"` // delta: changes after this sequence number
	To      int64  `json:"t,omitempty"` // delta: ... up to this one
	Off     int    `json:"o,omitempty"`
	Size    int    `json:"n,omitempty"`
	Select  string `json:"s,omitempty"`
	Epoch   int    `json:"e,omitempty"`
	Initial bool   `json:"i,omitempty"`
}

func (p pageToken) encode() string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (pageToken, bool) {
	var p pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &p) != nil {
		return pageToken{}, false
	}
	return p, true
}

// graphError is an error Graph answers with its JSON body.
type graphError struct {
	status     int
	code, msg  string
	retryAfter string
	location   string
}

func errorf(status int, code, format string, args ...any) *graphError {
	return &graphError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *graphError) {
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	if e.location != "" {
		w.Header().Set("Location", e.location)
	}
	body := map[string]any{"error": map[string]any{
		"code": e.code, "message": e.msg,
		"innerError": map[string]any{
			"date":              s.now().UTC().Format("2006-01-02T15:04:05"),
			"request-id":        w.Header().Get("request-id"),
			"client-request-id": r.Header.Get("client-request-id"),
		},
	}}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveGraph is the Graph v1.0 handler.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("request-id", s.newGUID())
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1.0/")
	if !ok {
		s.writeError(w, r, errorf(http.StatusBadRequest, "BadRequest", "Invalid version: %s", r.URL.Path))
		return
	}
	rt, ok := parseRoute(rest)
	name := rt.name
	if !ok {
		name = "unknown"
	}
	s.total++
	s.stats[name]++
	s.log = append(s.log, name+" "+r.Method+" "+r.URL.RequestURI())
	if !s.validToken(r) {
		s.writeError(w, r, errorf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid."))
		return
	}
	if !ok {
		s.writeError(w, r, errorf(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '%s'.", rest))
		return
	}
	if r.Method != http.MethodGet {
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "Request_BadRequest", "Method %s is not supported by this fake.", r.Method))
		return
	}
	q := r.URL.Query()
	if f := s.matchFault(rt.name, s.pageOf(q)); f != nil {
		code := f.Code
		if code == "" {
			code = http.StatusText(f.Status)
		}
		e := errorf(f.Status, code, "Injected fault on %s.", rt.name)
		e.retryAfter = f.RetryAfter
		s.writeError(w, r, e)
		return
	}
	if q.Has("$filter") || q.Has("$orderby") || q.Has("$search") || q.Has("$skip") {
		s.writeError(w, r, errorf(http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported query."))
		return
	}
	var body any
	var gerr *graphError
	switch rt.name {
	case RouteUsersCount:
		if !strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") {
			s.writeError(w, r, errorf(http.StatusBadRequest, "Request_BadRequest",
				"Count is not currently supported without the ConsistencyLevel header set to eventual."))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, len(s.t.users))
		return
	case RouteServicePrincipal:
		body, gerr = s.getServicePrincipal(rt, q)
	case RouteAppRoleAssignedTo:
		body, gerr = s.listAssignments(r, rt, q)
	case RouteUsers, RouteGroups:
		body, gerr = s.listObjects(r, rt, q)
	case RouteUser, RouteGroup:
		body, gerr = s.getObject(rt, q)
	case RouteMembers, RouteTransitiveMembers, RouteMemberOf, RouteTransitiveMemberOf:
		body, gerr = s.listRelated(r, rt, q)
	case RouteUsersDelta, RouteGroupsDelta:
		body, gerr = s.delta(rt, q)
	}
	if gerr != nil {
		s.writeError(w, r, gerr)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// pageOf returns the 1-based page a request asks for.
func (s *Server) pageOf(q url.Values) int {
	tok := q.Get("$skiptoken")
	if tok == "" {
		return 1
	}
	p, ok := decodeToken(tok)
	if !ok || p.Size <= 0 {
		return 1
	}
	return p.Off/p.Size + 1
}

// parseSelect returns the $select list, checked against known, or nil.
func parseSelect(q url.Values, typ string, known func(string) bool) ([]string, *graphError) {
	raw := q.Get("$select")
	if raw == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !known(p) {
			return nil, errorf(http.StatusBadRequest, "BadRequest", "Could not find a property named '%s' on type 'microsoft.graph.%s'.", p, typ)
		}
		out = append(out, p)
	}
	return out, nil
}

// parseTop returns $top, or def.
func (s *Server) parseTop(q url.Values, def int) (int, *graphError) {
	raw := q.Get("$top")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > s.maxTop {
		return 0, errorf(http.StatusBadRequest, "Request_BadRequest", "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", raw, s.maxTop)
	}
	return n, nil
}

// page cuts items to the page the request asks for and returns the
// collection body, with a nextLink when more remain.
func (s *Server) page(r *http.Request, context string, items []map[string]any, q url.Values, def int) (map[string]any, *graphError) {
	top, gerr := s.parseTop(q, def)
	if gerr != nil {
		return nil, gerr
	}
	off := 0
	if tok := q.Get("$skiptoken"); tok != "" {
		p, ok := decodeToken(tok)
		if !ok || p.Epoch != s.epoch || p.Off < 0 {
			return nil, errorf(http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
		}
		off, top = p.Off, p.Size
	}
	end := min(off+top, len(items))
	if off > len(items) {
		off = len(items)
	}
	body := map[string]any{"@odata.context": s.URL() + "/$metadata#" + context, "value": nonNil(items[off:end])}
	if end < len(items) {
		next := *r.URL
		nq := next.Query()
		nq.Set("$skiptoken", pageToken{Off: end, Size: top, Epoch: s.epoch}.encode())
		nq.Del("$top")
		nq.Set("$top", strconv.Itoa(top))
		next.RawQuery = nq.Encode()
		body["@odata.nextLink"] = s.graph.URL + next.RequestURI()
	}
	return body, nil
}

func nonNil(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

func (s *Server) getServicePrincipal(rt route, q url.Values) (any, *graphError) {
	sp := s.t.findSP(rt.id, rt.byApp)
	if sp == nil {
		return nil, notFound(rt.id)
	}
	sel, gerr := parseSelect(q, "servicePrincipal", func(p string) bool { _, ok := spProps(sp)[p]; return ok })
	if gerr != nil {
		return nil, gerr
	}
	m := project(spProps(sp), sel, nil)
	m["@odata.context"] = s.URL() + "/$metadata#servicePrincipals/$entity"
	return m, nil
}

func notFound(id string) *graphError {
	return errorf(http.StatusNotFound, "Request_ResourceNotFound",
		"Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

func (s *Server) listAssignments(r *http.Request, rt route, q url.Values) (any, *graphError) {
	sp := s.t.findSP(rt.id, rt.byApp)
	if sp == nil {
		return nil, notFound(rt.id)
	}
	sel, gerr := parseSelect(q, "appRoleAssignment", func(p string) bool { return slices.Contains(assignmentProps, p) })
	if gerr != nil {
		return nil, gerr
	}
	var items []map[string]any
	for _, aid := range s.t.assignSeq {
		a := s.t.assigns[aid]
		if a.ResourceID != sp.ID {
			continue
		}
		items = append(items, project(assignmentJSON(a), sel, nil))
	}
	return s.page(r, "servicePrincipals('"+sp.ID+"')/appRoleAssignedTo", items, q, 100)
}

func (s *Server) listObjects(r *http.Request, rt route, q url.Values) (any, *graphError) {
	var items []map[string]any
	if rt.name == RouteUsers {
		sel, gerr := parseSelect(q, "user", knownUserProp)
		if gerr != nil {
			return nil, gerr
		}
		for _, id := range sortedKeys(s.t.users) {
			items = append(items, project(s.userProps(s.t.users[id]), sel, defaultUserProps))
		}
		return s.page(r, "users", items, q, 100)
	}
	sel, gerr := parseSelect(q, "group", knownGroupProp)
	if gerr != nil {
		return nil, gerr
	}
	for _, id := range sortedKeys(s.t.groups) {
		items = append(items, project(s.groupProps(s.t.groups[id]), sel, nil))
	}
	return s.page(r, "groups", items, q, 100)
}

func (s *Server) getObject(rt route, q url.Values) (any, *graphError) {
	if rt.name == RouteUser {
		u := s.t.findUser(rt.id)
		if u == nil {
			return nil, notFound(rt.id)
		}
		sel, gerr := parseSelect(q, "user", knownUserProp)
		if gerr != nil {
			return nil, gerr
		}
		m := project(s.userProps(u), sel, defaultUserProps)
		m["@odata.context"] = s.URL() + "/$metadata#users/$entity"
		return m, nil
	}
	g := s.t.groups[rt.id]
	if g == nil {
		return nil, notFound(rt.id)
	}
	sel, gerr := parseSelect(q, "group", knownGroupProp)
	if gerr != nil {
		return nil, gerr
	}
	m := project(s.groupProps(g), sel, nil)
	m["@odata.context"] = s.URL() + "/$metadata#groups/$entity"
	return m, nil
}

// listRelated serves members, transitiveMembers, memberOf and
// transitiveMemberOf: directory objects with their @odata.type.
func (s *Server) listRelated(r *http.Request, rt route, q url.Values) (any, *graphError) {
	var ids []string
	switch rt.name {
	case RouteMembers, RouteTransitiveMembers:
		if s.t.groups[rt.id] == nil {
			return nil, notFound(rt.id)
		}
		ids = s.t.members[rt.id]
		if rt.name == RouteTransitiveMembers {
			ids = s.t.transitiveMembers(rt.id)
		}
	default:
		u := s.t.findUser(rt.id)
		if u == nil {
			return nil, notFound(rt.id)
		}
		ids = s.t.groupsOf(u.ID)
		if rt.name == RouteTransitiveMemberOf {
			ids = s.t.transitiveGroupsOf(u.ID)
		}
	}
	sel, gerr := parseSelect(q, "directoryObject", func(p string) bool { return knownUserProp(p) || knownGroupProp(p) })
	if gerr != nil {
		return nil, gerr
	}
	items := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		items = append(items, s.directoryObject(id, sel))
	}
	return s.page(r, "directoryObjects", items, q, 100)
}

// directoryObject renders any object with its @odata.type; selected
// properties the type lacks are left out.
func (s *Server) directoryObject(id string, sel []string) map[string]any {
	var all map[string]any
	var def []string
	typ := s.t.typeOf(id)
	switch typ {
	case TypeUser:
		all, def = s.userProps(s.t.users[id]), defaultUserProps
	case TypeGroup:
		all = s.groupProps(s.t.groups[id])
	case TypeDevice:
		d := s.t.devices[id]
		all = map[string]any{"id": d.id, "displayName": d.displayName, "deviceId": d.deviceID,
			"accountEnabled": true, "operatingSystem": "Windows", "operatingSystemVersion": "10.0.22631.4317"}
	case TypeOrgContact:
		c := s.t.contacts[id]
		all = map[string]any{"id": c.id, "displayName": c.displayName, "mail": c.mail}
	case TypeServicePrincipal:
		sp := s.t.sps[id]
		all = map[string]any{"id": sp.ID, "appId": sp.AppID, "displayName": sp.DisplayName}
	}
	var m map[string]any
	if sel != nil {
		m = map[string]any{"id": id}
		for _, p := range sel {
			if v, ok := all[p]; ok {
				m[p] = v
			}
		}
	} else {
		m = project(all, nil, def)
	}
	m["@odata.type"] = "#microsoft.graph." + typ
	return m
}

// project keeps the selected properties (id always), or def when nothing
// is selected, or everything when def is nil too. A selected property
// the object does not carry is null.
func project(all map[string]any, sel, def []string) map[string]any {
	keep := sel
	if keep == nil {
		keep = def
	}
	if keep == nil {
		return maps(all)
	}
	m := map[string]any{"id": all["id"]}
	for _, p := range keep {
		m[p] = all[p]
	}
	return m
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var defaultUserProps = []string{"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
	"mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}

// otherUserProps are real user properties the fake knows by name but
// only has when a user's Extra sets them.
var otherUserProps = []string{"city", "country", "companyName", "employeeType", "employeeHireDate",
	"employeeOrgData", "faxNumber", "identities", "mailNickname", "onPremisesDistinguishedName",
	"onPremisesDomainName", "onPremisesExtensionAttributes", "onPremisesImmutableId",
	"onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
	"onPremisesUserPrincipalName", "postalCode", "preferredName", "proxyAddresses",
	"showInAddressList", "state", "streetAddress", "usageLocation", "ageGroup", "creationType",
	"externalUserState", "deletedDateTime", "securityIdentifier"}

func knownUserProp(p string) bool {
	switch p {
	case "id", "userPrincipalName", "mail", "otherMails", "givenName", "surname", "displayName",
		"accountEnabled", "employeeId", "department", "jobTitle", "userType", "businessPhones",
		"mobilePhone", "officeLocation", "preferredLanguage", "createdDateTime":
		return true
	}
	return slices.Contains(otherUserProps, p) || strings.HasPrefix(p, "extension_")
}

func knownGroupProp(p string) bool {
	switch p {
	case "id", "displayName", "description", "mail", "mailEnabled", "mailNickname", "securityEnabled",
		"groupTypes", "createdDateTime", "visibility", "onPremisesSyncEnabled", "members",
		"classification", "isAssignableToRole", "membershipRule", "proxyAddresses", "securityIdentifier",
		"deletedDateTime", "expirationDateTime", "onPremisesSamAccountName", "uniqueName":
		return true
	}
	return strings.HasPrefix(p, "extension_")
}

var assignmentProps = []string{"id", "appRoleId", "createdDateTime", "deletedDateTime", "principalDisplayName",
	"principalId", "principalType", "resourceDisplayName", "resourceId"}

func (s *Server) userProps(u *User) map[string]any {
	other := u.OtherMails
	if other == nil {
		other = []string{}
	}
	m := map[string]any{
		"id": u.ID, "userPrincipalName": nullable(u.UserPrincipalName), "mail": nullable(u.Mail),
		"otherMails": other, "givenName": nullable(u.GivenName), "surname": nullable(u.Surname),
		"displayName": nullable(u.DisplayName), "accountEnabled": !u.Disabled,
		"employeeId": nullable(u.EmployeeID), "department": nullable(u.Department),
		"jobTitle": nullable(u.JobTitle), "userType": u.UserType, "businessPhones": []string{},
		"mobilePhone": nil, "officeLocation": nil, "preferredLanguage": nil,
		"createdDateTime": s.t.created[u.ID].UTC().Format(time.RFC3339),
	}
	for k, v := range u.Extra {
		m[k] = v
	}
	return m
}

func (s *Server) groupProps(g *Group) map[string]any {
	gt := g.GroupTypes
	if gt == nil {
		gt = []string{}
	}
	return map[string]any{
		"id": g.ID, "displayName": nullable(g.DisplayName), "description": nullable(g.Description),
		"mail": nullable(g.Mail), "mailEnabled": g.MailEnabled, "mailNickname": g.MailNickname,
		"securityEnabled": g.SecurityEnabled, "groupTypes": gt, "visibility": nil,
		"onPremisesSyncEnabled": nil, "createdDateTime": s.t.created[g.ID].UTC().Format(time.RFC3339),
	}
}

func spProps(sp *ServicePrincipal) map[string]any {
	roles := make([]map[string]any, 0, len(sp.AppRoles))
	for _, r := range sp.AppRoles {
		var v any
		if r.Value != nil {
			v = *r.Value
		}
		amt := r.AllowedMemberTypes
		if amt == nil {
			amt = []string{"User"}
		}
		roles = append(roles, map[string]any{
			"allowedMemberTypes": amt, "description": nullable(r.Description), "displayName": r.DisplayName,
			"id": r.ID, "isEnabled": r.IsEnabled, "origin": "Application", "value": v,
		})
	}
	return map[string]any{
		"id": sp.ID, "appId": sp.AppID, "displayName": sp.DisplayName,
		"appRoleAssignmentRequired": sp.AppRoleAssignmentRequired, "appRoles": roles,
		"accountEnabled": true, "servicePrincipalType": "Application",
		"tags": []string{"WindowsAzureActiveDirectoryIntegratedApp"},
	}
}

func assignmentJSON(a *Assignment) map[string]any {
	return map[string]any{
		"id": a.ID, "deletedDateTime": nil, "appRoleId": a.AppRoleID,
		"createdDateTime":      a.Created.Format("2006-01-02T15:04:05.0000000Z"),
		"principalDisplayName": a.PrincipalDisplayName, "principalId": a.PrincipalID,
		"principalType": a.PrincipalType, "resourceDisplayName": a.ResourceDisplayName,
		"resourceId": a.ResourceID,
	}
}
