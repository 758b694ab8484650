package netskope

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

// GetUser returns the user with the given id.
func (c *Client) GetUser(ctx context.Context, id string) (*scim.User, error) {
	u := new(scim.User)
	if err := c.get(ctx, "get user", pathUsers, id, nil, u); err != nil {
		return nil, err
	}
	return u, nil
}

// GetGroup returns the group with the given id. Members are returned only
// with target.WithMembers; target.WithAttributes limits the attributes.
func (c *Client) GetGroup(ctx context.Context, id string, opts ...target.ReadOption) (*scim.Group, error) {
	g := new(scim.Group)
	q := readQuery(target.ApplyReadOptions(opts...), true)
	if err := c.get(ctx, "get group", pathGroups, id, q, g); err != nil {
		return nil, err
	}
	return g, nil
}

func (c *Client) get(ctx context.Context, op, collection, id string, q url.Values, out any) error {
	r := &request{op: op, objectAttr: "id", objectValue: id, method: http.MethodGet, query: q}
	p, ok := resourcePath(collection, id)
	if !ok {
		return c.invalid(r, fmt.Sprintf("id %q does not name one resource", id))
	}
	r.path = p
	res, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	return c.decode(r, res, out)
}

// CreateUser creates u (POST /Users) and returns the user sent with the
// id and meta the server assigned. The body carries the schemas u needs;
// id, meta and the read-only groups attribute are not sent. Only the id
// and meta of the response are decoded (the rest echoes the body), so an
// attribute the server changed on creation shows in GetUser, not here.
// The user returned shares its slices (emails, ...) with u.
func (c *Client) CreateUser(ctx context.Context, u *scim.User) (*scim.User, error) {
	r := &request{op: "create user", method: http.MethodPost, path: pathUsers}
	if u == nil {
		return nil, c.invalid(r, "nil user")
	}
	r.objectAttr, r.objectValue = "userName", u.UserName
	s := new(sentUser) // the body, its schemas and the user returned are one allocation
	s.user = userBody(u, &s.schemas)
	r.body = &s.user
	id, meta, err := c.create(ctx, r)
	if err != nil {
		return nil, err
	}
	s.user.ID, s.user.Meta = id, meta
	return &s.user, nil
}

// sentUser is the body CreateUser sends and returns, with room for its
// schemas list.
type sentUser struct {
	user    scim.User
	schemas [2]string
}

// CreateGroup creates g (POST /Groups), members included, and returns the
// group sent with the id and meta the server assigned; as for CreateUser,
// the rest of the response is not decoded.
func (c *Client) CreateGroup(ctx context.Context, g *scim.Group) (*scim.Group, error) {
	r := &request{op: "create group", method: http.MethodPost, path: pathGroups}
	if g == nil {
		return nil, c.invalid(r, "nil group")
	}
	r.objectAttr, r.objectValue = "displayName", g.DisplayName
	body := groupBody(g)
	r.body = &body
	id, meta, err := c.create(ctx, r)
	if err != nil {
		return nil, err
	}
	body.ID, body.Meta = id, meta
	return &body, nil
}

// createdResource is what a POST response is decoded into: the id and
// meta the server assigned. The other attributes echo the request and
// are skipped, which spares an allocation per attribute on every create.
type createdResource struct {
	ID   string     `json:"id"`
	Meta *scim.Meta `json:"meta"`
}

// create sends a POST and returns the id and meta of the created
// resource, which must carry an id (Netskope answers 201; a 200 with the
// body is accepted too).
func (c *Client) create(ctx context.Context, r *request) (string, *scim.Meta, error) {
	r.scratch = true // what is decoded is copied out of the body
	res, err := c.do(ctx, r)
	if err != nil {
		return "", nil, err
	}
	defer c.recycle(res)
	out, ok := decodeCreated(res.body)
	if !ok {
		if err := c.decode(r, res, &out); err != nil {
			return "", nil, err
		}
	}
	if out.ID == "" {
		return "", nil, c.protocolError(r, res, "the created resource has no id")
	}
	return out.ID, out.Meta, nil
}

// ReplaceUser replaces the user with the given id by u (PUT) and returns
// it as stored. If the server answers without a body, the user sent is
// returned with the id set.
func (c *Client) ReplaceUser(ctx context.Context, id string, u *scim.User) (*scim.User, error) {
	r := &request{op: "replace user", objectAttr: "id", objectValue: id, method: http.MethodPut}
	if u == nil {
		return nil, c.invalid(r, "nil user")
	}
	body := userBody(u, new([2]string))
	r.body = body
	out := new(scim.User)
	if err := c.replace(ctx, r, pathUsers, id, out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		*out = body
		out.ID = id
	}
	return out, nil
}

// ReplaceGroup replaces the group with the given id by g (PUT) and returns
// it as stored. If the server answers without a body, the group sent is
// returned with the id set. Whether Netskope clears the members of a PUT
// without members is not known; send the members the group should have.
func (c *Client) ReplaceGroup(ctx context.Context, id string, g *scim.Group) (*scim.Group, error) {
	r := &request{op: "replace group", objectAttr: "id", objectValue: id, method: http.MethodPut}
	if g == nil {
		return nil, c.invalid(r, "nil group")
	}
	body := groupBody(g)
	r.body = body
	out := new(scim.Group)
	if err := c.replace(ctx, r, pathGroups, id, out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		*out = body
		out.ID = id
	}
	return out, nil
}

func (c *Client) replace(ctx context.Context, r *request, collection, id string, out any) error {
	p, ok := resourcePath(collection, id)
	if !ok {
		return c.invalid(r, fmt.Sprintf("id %q does not name one resource", id))
	}
	r.path = p
	res, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if res.status == http.StatusNoContent || len(strings.TrimSpace(string(res.body))) == 0 {
		return nil
	}
	return c.decode(r, res, out)
}

// PatchUser applies ops to the user with the given id (PATCH). Paths are
// sent as given, op names in lower case. No ops sends nothing. Netskope
// answers 204; a 200 is accepted and its body ignored.
func (c *Client) PatchUser(ctx context.Context, id string, ops ...scim.PatchOperation) error {
	return c.patch(ctx, "patch user", pathUsers, id, normalizeOps(ops, false))
}

// PatchGroup applies ops to the group with the given id (PATCH). The
// paths members, externalId and displayName are sent in lower case, as
// Netskope's specification lists them. No ops sends nothing.
func (c *Client) PatchGroup(ctx context.Context, id string, ops ...scim.PatchOperation) error {
	return c.patch(ctx, "patch group", pathGroups, id, normalizeOps(ops, true))
}

func (c *Client) patch(ctx context.Context, op, collection, id string, ops []scim.PatchOperation) error {
	r := &request{op: op, objectAttr: "id", objectValue: id, method: http.MethodPatch}
	p, ok := resourcePath(collection, id)
	if !ok {
		return c.invalid(r, fmt.Sprintf("id %q does not name one resource", id))
	}
	if len(ops) == 0 {
		return nil
	}
	r.path = p
	r.body = scim.NewPatch(ops...)
	_, err := c.do(ctx, r)
	return err
}

// normalizeOps copies ops with lower-case op names and, for groups, the
// lower-case attribute names Netskope's specification uses.
func normalizeOps(ops []scim.PatchOperation, group bool) []scim.PatchOperation {
	out := make([]scim.PatchOperation, len(ops))
	for i, o := range ops {
		o.Op = strings.ToLower(o.Op)
		if group {
			o.Path = groupPatchPath(o.Path)
		}
		out[i] = o
	}
	return out
}

// groupPatchPath lower-cases the attribute of a group PATCH path when it
// is one Netskope lists (members, externalid, displayname), leaving any
// value filter or sub-attribute as it is: members[value eq "x"] keeps its
// filter value.
func groupPatchPath(p string) string {
	name, rest := p, ""
	if i := strings.IndexAny(p, "[."); i >= 0 {
		name, rest = p[:i], p[i:]
	}
	switch lower := strings.ToLower(name); lower {
	case "members", "externalid", "displayname":
		return lower + rest
	}
	return p
}

// DeleteUser deletes the user with the given id (DELETE; 204 or 200).
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.delete(ctx, "delete user", pathUsers, id)
}

// DeleteGroup deletes the group with the given id (DELETE; 204 or 200).
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	return c.delete(ctx, "delete group", pathGroups, id)
}

func (c *Client) delete(ctx context.Context, op, collection, id string) error {
	r := &request{op: op, objectAttr: "id", objectValue: id, method: http.MethodDelete}
	p, ok := resourcePath(collection, id)
	if !ok {
		return c.invalid(r, fmt.Sprintf("id %q does not name one resource", id))
	}
	r.path = p
	_, err := c.do(ctx, r)
	return err
}

// AddMembers adds the users with the given ids to a group, with PATCH
// {"op":"add","path":"members","value":[{"value":id},...]} requests of at
// most the member chunk size each. Repeated ids are sent once; no ids
// sends nothing. If a chunk fails, the error says how many ids the chunks
// before it applied.
func (c *Client) AddMembers(ctx context.Context, groupID string, userIDs []string) error {
	return c.changeMembers(ctx, "add members", scim.OpAdd, groupID, userIDs)
}

// RemoveMembers removes the users with the given ids from a group, in
// chunks as AddMembers adds them.
func (c *Client) RemoveMembers(ctx context.Context, groupID string, userIDs []string) error {
	return c.changeMembers(ctx, "remove members", scim.OpRemove, groupID, userIDs)
}

func (c *Client) changeMembers(ctx context.Context, op, verb, groupID string, userIDs []string) error {
	r := &request{op: op, objectAttr: "id", objectValue: groupID, method: http.MethodPatch}
	p, ok := resourcePath(pathGroups, groupID)
	if !ok {
		return c.invalid(r, fmt.Sprintf("group id %q does not name one group", groupID))
	}
	ids := make([]string, 0, len(userIDs))
	seen := make(map[string]struct{}, len(userIDs))
	for _, id := range userIDs {
		if id == "" {
			return c.invalid(r, "empty user id among the members")
		}
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	chunks := (len(ids) + c.chunkSize - 1) / c.chunkSize
	for i := 0; i < len(ids); i += c.chunkSize {
		chunk := ids[i:min(i+c.chunkSize, len(ids))]
		cr := *r
		cr.path = p
		cr.body = scim.NewPatch(scim.PatchOperation{Op: verb, Path: "members", Value: scim.MemberValues(chunk)})
		if _, err := c.do(ctx, &cr); err != nil {
			if i == 0 {
				return err
			}
			return fmt.Errorf("%w (chunk %d of %d; the %d ids before it were applied)", err, i/c.chunkSize+1, chunks, i)
		}
	}
	return nil
}

// userBody is the body sent for u: with its schemas (held in room, see
// scim.User.SchemasIn), without the attributes a client must not write
// (id, meta, groups).
func userBody(u *scim.User, room *[2]string) scim.User {
	b := *u
	b.ID, b.Meta, b.Groups = "", nil, nil
	b.Schemas = u.SchemasIn(room)
	return b
}

// groupBody is the body sent for g: with its schemas, without id and meta.
func groupBody(g *scim.Group) scim.Group {
	b := g.WithSchemas()
	b.ID, b.Meta = "", nil
	return b
}
