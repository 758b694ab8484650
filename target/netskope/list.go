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
// number of resources each page holds and stops once totalResults are read
// or at an empty page.
//
// The pages must agree with each other, or the listing is refused with
// target.ErrIncomplete, since what it lacks could not be told from what
// does not exist: totalResults changes between pages; the listing ends
// (an empty page, or one shorter than the first) before totalResults; it
// holds more resources than totalResults; a page shorter than the first is
// followed by more; an id comes twice. A page holding only resources
// already read is target.ErrProtocol: the server ignores startIndex. A
// totalResults of 0 on pages that hold resources is read as not given.
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

	var (
		out        []T
		seen       = make(map[string]struct{})
		firstTotal *int
		firstLen   int
		shortAt    int // startIndex of a page shorter than the first; 0 if none
	)
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
		if start == 1 {
			firstTotal, firstLen = page.TotalResults, n
		} else if !sameTotal(firstTotal, page.TotalResults) {
			return nil, c.incomplete(r, res, fmt.Sprintf("totalResults changed from %s on the first page to %s at startIndex=%d",
				totalString(firstTotal), totalString(page.TotalResults), start))
		}
		total := -1 // not given
		if t := page.TotalResults; t != nil && (*t > 0 || n == 0) {
			total = *t
		}
		if n == 0 {
			if total > len(out) {
				return nil, c.incomplete(r, res, fmt.Sprintf("the listing ended at startIndex=%d after %d of totalResults %d",
					start, len(out), total))
			}
			return out, nil
		}
		if shortAt > 0 {
			return nil, c.incomplete(r, res, fmt.Sprintf(
				"the page at startIndex=%d held fewer resources than the first page, yet more followed at startIndex=%d",
				shortAt, start))
		}
		fresh, repeated := 0, ""
		for i := range page.Resources {
			id := idOf(&page.Resources[i])
			if id == "" {
				return nil, c.protocolError(r, res, fmt.Sprintf("resource %d of the page at startIndex=%d has no id", i+1, start))
			}
			if _, dup := seen[id]; dup {
				if repeated == "" {
					repeated = id
				}
				continue
			}
			seen[id] = struct{}{}
			out = append(out, page.Resources[i])
			fresh++
		}
		switch {
		case fresh == 0:
			return nil, c.protocolError(r, res, fmt.Sprintf(
				"the page at startIndex=%d repeats only resources already listed; the server seems to ignore startIndex, "+
					"so the list cannot be read to its end", start))
		case repeated != "":
			return nil, c.incomplete(r, res, fmt.Sprintf(
				"id %q came again at startIndex=%d: the pages overlap, so others may have been skipped", repeated, start))
		case total >= 0 && len(out) > total:
			return nil, c.incomplete(r, res, fmt.Sprintf("%d resources read by startIndex=%d, more than totalResults %d",
				len(out), start, total))
		case total >= 0 && len(out) == total:
			return out, nil
		case n < firstLen && total >= 0:
			return nil, c.incomplete(r, res, fmt.Sprintf(
				"the page at startIndex=%d held %d resources, fewer than the first page's %d, with %d of totalResults %d read",
				start, n, firstLen, len(out), total))
		case n < firstLen:
			shortAt = start
		}
		start += n
	}
}

// sameTotal reports whether two pages gave the same totalResults.
func sameTotal(a, b *int) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func totalString(t *int) string {
	if t == nil {
		return "none"
	}
	return strconv.Itoa(*t)
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
