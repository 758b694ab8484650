package netskope

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap"

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

// listAll reads every page of a collection into one slice (listEach).
func listAll[T any](ctx context.Context, c *Client, op, path string, o target.ReadOptions, groups bool,
	idOf func(*T) string,
) ([]T, error) {
	var out []T
	err := listEach(ctx, c, op, path, o, groups, idOf, func(v *T) error {
		out = append(out, *v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// listSeq is listEach as an iterator: it yields each resource, and a
// failed listing yields (nil, err) last. Breaking out of the loop stops
// the listing before its next page.
func listSeq[T any](ctx context.Context, c *Client, op, path string, o target.ReadOptions, groups bool,
	idOf func(*T) string,
) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		err := listEach(ctx, c, op, path, o, groups, idOf, func(v *T) error {
			if !yield(v, nil) {
				return errStopped
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopped) {
			yield(nil, err)
		}
	}
}

// errStopped ends a listing whose caller stopped iterating.
var errStopped = errors.New("listing stopped by its caller")

// listEach reads every page of a collection and hands each resource to
// each as the page is decoded, one element of Resources at a time; the
// *T is reused for the next resource, so each keeps what it needs of it.
// It advances startIndex by the number of resources each page holds and
// stops once totalResults are read or at an empty page.
//
// The pages must agree with each other, or the listing is refused with
// target.ErrIncomplete, since what it lacks could not be told from what
// does not exist: totalResults changes between pages; the listing ends
// (an empty page, or one shorter than the first) before totalResults; it
// holds more resources than totalResults; a page shorter than the first is
// followed by more; an id comes twice. A page holding only resources
// already read is target.ErrProtocol: the server ignores startIndex. A
// totalResults of 0 on pages that hold resources is read as not given.
// Some of these show only once a page is read to its end, so a caller
// that gets an error discards whatever each was given: it is not the
// listing.
func listEach[T any](ctx context.Context, c *Client, op, path string, o target.ReadOptions, groups bool,
	idOf func(*T) string, each func(*T) error,
) error {
	q := readQuery(o, groups)
	// Pages are decoded as they arrive: a page of groups holds their
	// members, and is large.
	r := &request{op: op, method: http.MethodGet, path: path, query: q, stream: true}
	if !o.Filter.IsZero() {
		expr, err := o.Filter.Build()
		if err != nil {
			return c.invalid(r, err.Error())
		}
		q.Set("filter", expr)
		r.hasFilter = true
	}

	var (
		read       int // resources handed to each
		seen       = make(map[string]struct{})
		firstTotal *int
		firstLen   int
		shortAt    int // startIndex of a page shorter than the first; 0 if none
	)
	for start := 1; ; {
		q.Set("startIndex", strconv.Itoa(start))
		q.Set("count", strconv.Itoa(c.pageSize))
		var (
			res      *response
			page     pageHead
			err      error
			fresh    int
			repeated string
			ids      []string // of a streamed page's resources, in order
		)
		for attempt := 1; ; attempt++ {
			if res, err = c.do(ctx, r); err != nil {
				return err
			}
			page, err = decodePage(c, r, res, start, func(i int, v *T) error {
				id := idOf(v)
				if i <= len(ids) {
					// Handed on before the page was cut off in transit.
					if id != ids[i-1] {
						return c.incomplete(r, res, fmt.Sprintf(
							"resource %d of the page at startIndex=%d, read again after the page was cut off in transit, "+
								"is id %q, not %q as before", i, start, id, ids[i-1]))
					}
					return nil
				}
				if id == "" {
					return c.protocolError(r, res, fmt.Sprintf("resource %d of the page at startIndex=%d has no id", i, start))
				}
				if res.stream != nil {
					ids = append(ids, id)
				}
				if _, dup := seen[id]; dup {
					if repeated == "" {
						repeated = id
					}
					return nil
				}
				seen[id] = struct{}{}
				fresh++
				read++
				return each(v)
			})
			var cut *cutOff
			if !errors.As(err, &cut) {
				break
			}
			// A page cut off in transit is read again; the resources
			// handed on before the cut are checked, not handed on again.
			if ctx.Err() != nil {
				return c.canceled(r, attempt, 0, ctx.Err())
			}
			if attempt > c.policy.Retries() {
				return c.unavailable(r, attempt, cut.err)
			}
			wait := c.retryWait(nil, attempt)
			c.log.Debug("netskope list page cut off in transit; reading it again", zap.String("op", r.op),
				zap.Int("startIndex", start), zap.Int("resourcesRead", len(ids)), zap.Duration("retryIn", wait))
			if err := c.pause(ctx, wait); err != nil {
				return c.canceled(r, attempt, 0, err)
			}
		}
		if err != nil {
			return err
		}
		if page.total == nil && !page.resources {
			return c.protocolError(r, res, "the response is not a SCIM ListResponse (no totalResults, no Resources)")
		}
		n := page.n
		if start == 1 {
			firstTotal, firstLen = page.total, n
		} else if !sameTotal(firstTotal, page.total) {
			return c.incomplete(r, res, fmt.Sprintf("totalResults changed from %s on the first page to %s at startIndex=%d",
				totalString(firstTotal), totalString(page.total), start))
		}
		total := -1 // not given
		if t := page.total; t != nil && (*t > 0 || n == 0) {
			total = *t
		}
		if n == 0 {
			if total > read {
				return c.incomplete(r, res, fmt.Sprintf("the listing ended at startIndex=%d after %d of totalResults %d",
					start, read, total))
			}
			return nil
		}
		if shortAt > 0 {
			return c.incomplete(r, res, fmt.Sprintf(
				"the page at startIndex=%d held fewer resources than the first page, yet more followed at startIndex=%d",
				shortAt, start))
		}
		switch {
		case fresh == 0:
			return c.protocolError(r, res, fmt.Sprintf(
				"the page at startIndex=%d repeats only resources already listed; the server seems to ignore startIndex, "+
					"so the list cannot be read to its end", start))
		case repeated != "":
			return c.incomplete(r, res, fmt.Sprintf(
				"id %q came again at startIndex=%d: the pages overlap, so others may have been skipped", repeated, start))
		case total >= 0 && read > total:
			return c.incomplete(r, res, fmt.Sprintf("%d resources read by startIndex=%d, more than totalResults %d",
				read, start, total))
		case total >= 0 && read == total:
			return nil
		case n < firstLen && total >= 0:
			return c.incomplete(r, res, fmt.Sprintf(
				"the page at startIndex=%d held %d resources, fewer than the first page's %d, with %d of totalResults %d read",
				start, n, firstLen, read, total))
		case n < firstLen:
			shortAt = start
		}
		start += n
	}
}

// pageHead is what a list page says besides its resources.
type pageHead struct {
	total     *int // totalResults; nil if not given (or null)
	resources bool // Resources was given, as an array
	n         int  // resources the page held
}

// decodePage decodes the ListResponse in res's body, the page at
// startIndex start, handing each element of Resources to each as it is
// decoded (i counts from 1; v is reused). Attribute names match
// case-insensitively, as SCIM's do. A body that is not one JSON object,
// or an element that does not decode, is target.ErrProtocol naming the
// element and the page.
func decodePage[T any](c *Client, r *request, res *response, start int, each func(i int, v *T) error) (h pageHead, err error) {
	var src io.Reader
	if s := res.stream; s != nil {
		src = s
		handed := false // err is each's
		defer func() {
			if err != nil && !handed && s.err != nil {
				err = &cutOff{err: s.err}
			}
			s.Close()
		}()
		each0 := each
		each = func(i int, v *T) error {
			err := each0(i, v)
			handed = err != nil
			return err
		}
	} else {
		if len(bytes.TrimSpace(res.body)) == 0 {
			return h, c.protocolError(r, res, "empty response body")
		}
		src = bytes.NewReader(res.body)
	}
	notSCIM := func(err error) error {
		return c.protocolError(r, res, fmt.Sprintf("response is not SCIM JSON (Content-Type %q): %v",
			res.header.Get("Content-Type"), err))
	}
	dec := json.NewDecoder(src)
	tok, err := dec.Token()
	switch {
	case err == io.EOF:
		return h, c.protocolError(r, res, "empty response body")
	case err != nil:
		return h, notSCIM(err)
	case tok == nil: // null: no totalResults, no Resources
		return h, trailing(dec, notSCIM)
	case tok != json.Delim('{'):
		return h, notSCIM(fmt.Errorf("the body is %s, not a JSON object", tokenKind(tok)))
	}
	seenResources := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return h, notSCIM(err)
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "totalResults"):
			h.total = nil
			if err := dec.Decode(&h.total); err != nil {
				return h, notSCIM(fmt.Errorf("totalResults: %w", err))
			}
		case strings.EqualFold(key, "Resources"):
			if seenResources {
				return h, c.protocolError(r, res, fmt.Sprintf("the page at startIndex=%d holds Resources twice", start))
			}
			seenResources = true
			tok, err := dec.Token()
			switch {
			case err != nil:
				return h, notSCIM(fmt.Errorf("Resources: %w", err))
			case tok == nil:
				continue
			case tok != json.Delim('['):
				return h, notSCIM(fmt.Errorf("Resources is %s, not an array", tokenKind(tok)))
			}
			h.resources = true
			var v T
			elem := elemFor(&v)
			for dec.More() {
				h.n++
				var zero T
				v = zero
				if err := dec.Decode(elem); err != nil {
					return h, c.protocolError(r, res, fmt.Sprintf("resource %d of the page at startIndex=%d does not decode: %v",
						h.n, start, err))
				}
				if err := each(h.n, &v); err != nil {
					return h, err
				}
			}
			if _, err := dec.Token(); err != nil { // ]
				return h, notSCIM(fmt.Errorf("Resources: %w", err))
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return h, notSCIM(fmt.Errorf("%s: %w", key, err))
			}
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return h, notSCIM(err)
	}
	return h, trailing(dec, notSCIM)
}

// cutOff is a streamed page whose body failed in transit (a transport
// error, not JSON that ends too early): the page is read again.
type cutOff struct{ err error }

func (e *cutOff) Error() string { return "the page was cut off in transit: " + e.err.Error() }

// trailing checks that dec holds nothing after the value it read.
func trailing(dec *json.Decoder, notSCIM func(error) error) error {
	if _, err := dec.Token(); err != io.EOF {
		return notSCIM(errors.New("data after the top-level value"))
	}
	return nil
}

// tokenKind names the kind of a JSON token, for messages: never its
// value, which may be personal data.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		if tok == json.Delim('[') {
			return "an array"
		}
		return "a delimiter"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
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

// ListUsersSeq yields the users ListUsers returns, one at a time as each
// page is decoded, so that a caller keeps only what it needs of each
// (target.Streamer). The yielded user is reused once the loop body
// returns. A failed listing yields (nil, err) last, after which what was
// yielded must be discarded: it is not the whole listing.
func (c *Client) ListUsersSeq(ctx context.Context, opts ...target.ReadOption) iter.Seq2[*scim.User, error] {
	return listSeq(ctx, c, "list users", pathUsers, target.ApplyReadOptions(opts...), false,
		func(u *scim.User) string { return u.ID })
}

// ListGroupsSeq yields the groups ListGroups returns, one at a time, as
// ListUsersSeq yields users.
func (c *Client) ListGroupsSeq(ctx context.Context, opts ...target.ReadOption) iter.Seq2[*scim.Group, error] {
	return listSeq(ctx, c, "list groups", pathGroups, target.ApplyReadOptions(opts...), true,
		func(g *scim.Group) string { return g.ID })
}
