package netskope

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
)

// Paths of the resource collections, relative to the base URL.
const (
	pathUsers  = "/Users"
	pathGroups = "/Groups"
)

// groupAttributes are the attributes asked for when a group read wants
// members: Netskope leaves members out unless they are named.
const groupAttributes = "id,externalId,displayName,members,meta"

// listPage is a ListResponse whose totalResults and Resources can be told
// absent from empty, so that a JSON body that is not a list is refused
// instead of read as "no resources".
type listPage[T any] struct {
	TotalResults *int `json:"totalResults"`
	Resources    []T  `json:"Resources"`
}

// resourcePath returns the escaped path of one resource. An id that would
// address something else ("", ".", "..") is refused.
func resourcePath(collection, id string) (string, bool) {
	if id == "" || id == "." || id == ".." {
		return "", false
	}
	return collection + "/" + url.PathEscape(id), true
}

// readQuery builds the query of a read from its options. Group reads name
// members explicitly, or exclude them.
func readQuery(o target.ReadOptions, groups bool) url.Values {
	q := url.Values{}
	switch {
	case groups && o.Members && len(o.Attributes) == 0:
		q.Set("attributes", groupAttributes)
	case groups && o.Members:
		q.Set("attributes", strings.Join(withNames(o.Attributes, "id", "members"), ","))
	case len(o.Attributes) > 0:
		q.Set("attributes", strings.Join(withNames(o.Attributes, "id"), ","))
	case groups:
		q.Set("excludedAttributes", "members")
	}
	return q
}

// withNames returns names followed by those of more it does not hold
// (attribute names are case-insensitive).
func withNames(names []string, more ...string) []string {
	out := append([]string(nil), names...)
	for _, m := range more {
		found := false
		for _, n := range names {
			if strings.EqualFold(n, m) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, m)
		}
	}
	return out
}

// listAll reads every page of a collection. It advances startIndex by the
// number of resources each page holds, and stops at totalResults, at an
// empty page, or with a protocol error at a page holding only resources
// already read (a server ignoring startIndex).
func listAll[T any](ctx context.Context, c *Client, op, path string, o target.ReadOptions, groups bool,
	idOf func(*T) string,
) ([]T, error) {
	q := readQuery(o, groups)
	r := &request{op: op, method: http.MethodGet, path: path, query: q}
	if !o.Filter.IsZero() {
		expr, err := o.Filter.Build()
		if err != nil {
			return nil, c.invalid(r, err.Error())
		}
		q.Set("filter", expr)
		r.hasFilter = true
	}

	var out []T
	seen := make(map[string]struct{})
	for start := 1; ; {
		q.Set("startIndex", strconv.Itoa(start))
		q.Set("count", strconv.Itoa(c.pageSize))
		res, err := c.do(ctx, r)
		if err != nil {
			return nil, err
		}
		var page listPage[T]
		if err := c.decode(r, res, &page); err != nil {
			return nil, err
		}
		if page.TotalResults == nil && page.Resources == nil {
			return nil, c.protocolError(r, res, "the response is not a SCIM ListResponse (no totalResults, no Resources)")
		}
		n := len(page.Resources)
		if n == 0 {
			return out, nil
		}
		fresh := 0
		for i := range page.Resources {
			id := idOf(&page.Resources[i])
			if id == "" {
				return nil, c.protocolError(r, res, fmt.Sprintf("resource %d of the page at startIndex=%d has no id", i+1, start))
			}
			if _, dup := seen[id]; dup {
				// A concurrent insertion shifts the pages; keep one copy.
				continue
			}
			seen[id] = struct{}{}
			out = append(out, page.Resources[i])
			fresh++
		}
		if fresh == 0 {
			return nil, c.protocolError(r, res, fmt.Sprintf(
				"the page at startIndex=%d repeats only resources already listed; the server seems to ignore startIndex, "+
					"so the list cannot be read to its end", start))
		}
		if total := page.TotalResults; total != nil && *total > 0 && len(out) >= *total {
			return out, nil
		}
		start += n
	}
}

// ListUsers returns every user the filter matches, all users without one.
// target.WithAttributes limits the attributes returned (id is always
// asked for); target.WithMembers does not apply to users.
func (c *Client) ListUsers(ctx context.Context, opts ...target.ReadOption) ([]scim.User, error) {
	return listAll(ctx, c, "list users", pathUsers, target.ApplyReadOptions(opts...), false,
		func(u *scim.User) string { return u.ID })
}

// ListGroups returns every group the filter matches. Members are returned
// only with target.WithMembers: without it the request excludes them, as
// Netskope does by default.
func (c *Client) ListGroups(ctx context.Context, opts ...target.ReadOption) ([]scim.Group, error) {
	return listAll(ctx, c, "list groups", pathGroups, target.ApplyReadOptions(opts...), true,
		func(g *scim.Group) string { return g.ID })
}
