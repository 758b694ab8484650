package netskopetest

import (
	"net/http"
	"strings"
	"time"

	escim "github.com/elimity-com/scim"
	efilter "github.com/elimity-com/scim/filter"
	fp "github.com/scim2/filter-parser/v2"
)

// resourceHandler is elimity's callback interface for one resource type,
// over the server's store.
type resourceHandler struct {
	s    *Server
	kind kind
}

var _ escim.ResourceHandler = resourceHandler{}

// view is what a read asks to see of a resource.
type view struct {
	members  bool            // groups: return members
	excluded map[string]bool // lower-cased top-level attributes to leave out
	// noEmptyMembers leaves members out of a group that has none.
	noEmptyMembers bool
}

// viewOf reads the attributes and excludedAttributes query parameters.
// Only members is governed by attributes (Netskope leaves group members out
// unless they are asked for); excludedAttributes drops any top-level
// attribute.
func viewOf(r *http.Request) view {
	var v view
	if r.URL.RawQuery == "" {
		return v // spares a create the parse of no query
	}
	q := r.URL.Query()
	for _, a := range splitAttrs(q["attributes"]) {
		if a == "members" {
			v.members = true
		}
	}
	for _, a := range splitAttrs(q["excludedAttributes"]) {
		if v.excluded == nil {
			v.excluded = map[string]bool{}
		}
		v.excluded[a] = true
		if a == "members" {
			v.members = false
		}
	}
	return v
}

// splitAttrs splits comma-separated attribute lists into lower-case
// top-level names: "Members.value" and
// "urn:ietf:params:scim:schemas:core:2.0:Group:members" give "members".
func splitAttrs(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, a := range strings.Split(v, ",") {
			a = strings.ToLower(strings.TrimSpace(a))
			for _, core := range []string{"urn:ietf:params:scim:schemas:core:2.0:user:", "urn:ietf:params:scim:schemas:core:2.0:group:"} {
				a = strings.TrimPrefix(a, core)
			}
			if !strings.HasPrefix(a, "urn:") {
				if i := strings.IndexAny(a, ".["); i >= 0 {
					a = a[:i]
				}
			}
			if a != "" {
				out = append(out, a)
			}
		}
	}
	return out
}

// view is what the request asks to see, as this server shows it.
func (h resourceHandler) view(r *http.Request) view {
	v := viewOf(r)
	v.noEmptyMembers = h.s.noEmptyMembers
	return v
}

// resource renders rec for elimity. The attribute map is a fresh shallow
// copy, as elimity adds id, schemas and meta to it; the values are shared
// and never changed. The caller holds the lock.
func (st *store) resource(k kind, rec *record, v view) escim.Resource {
	m := rec.attrMap()
	attrs := make(escim.ResourceAttributes, len(m)+5)
	for name, val := range m {
		if v.excluded != nil && v.excluded[strings.ToLower(name)] {
			continue
		}
		attrs[name] = val
	}
	if k == kindGroup && v.members && (len(rec.members) > 0 || !v.noEmptyMembers) {
		attrs["members"] = st.memberValues(rec)
	}
	created, modified := rec.created, rec.modified
	return escim.Resource{
		ID:         rec.id,
		Attributes: attrs,
		Meta:       escim.Meta{Created: &created, LastModified: &modified},
	}
}

// Create stores a new resource (POST, 201).
func (h resourceHandler) Create(r *http.Request, attributes escim.ResourceAttributes) (out escim.Resource, err error) {
	st := h.s.store
	err = st.createThen(h.kind, attributes, func(rec *record) {
		stateFrom(r.Context()).created = rec.id
		out = st.resource(h.kind, rec, h.view(r))
	})
	return out, err
}

// createThen stores a new resource of attributes validated by elimity and
// calls render with it, under the lock.
func (st *store) createThen(k kind, attributes map[string]any, render func(*record)) error {
	p, err := st.table(k).prepare(attributes)
	if err != nil {
		return err
	}
	return st.createPrepared(k, p, render)
}

// createPrepared stores a new resource of p and calls render with it,
// under the lock.
func (st *store) createPrepared(k kind, p prepared, render func(*record)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	rec, err := st.create(k, p)
	if err != nil {
		return err
	}
	render(rec)
	return nil
}

// Get returns one resource (GET /{id}).
func (h resourceHandler) Get(r *http.Request, id string) (out escim.Resource, err error) {
	st := h.s.store
	err = st.getThen(h.kind, id, func(rec *record) { out = st.resource(h.kind, rec, h.view(r)) })
	return out, err
}

// getThen calls render with the resource id, under the lock.
func (st *store) getThen(k kind, id string, render func(*record)) error {
	st.mu.RLock()
	defer st.mu.RUnlock()
	rec, ok := st.table(k).get(id)
	if !ok {
		return notFound(k, id)
	}
	render(rec)
	return nil
}

// GetAll returns one page of the resources a filter matches, in insertion
// order. An "eq" on an indexed attribute is answered from its index; no
// filter pages straight through the ordered slice; any other filter scans.
func (h resourceHandler) GetAll(r *http.Request, params escim.ListRequestParams) (page escim.Page, err error) {
	st := h.s.store
	err = h.list(r, params.FilterValidator, params.StartIndex, params.Count, func(recs []*record, total int, v view) {
		page.TotalResults = total
		if recs != nil {
			page.Resources = make([]escim.Resource, 0, len(recs))
		}
		for _, rec := range recs {
			page.Resources = append(page.Resources, st.resource(h.kind, rec, v))
		}
		stateFrom(r.Context()).listed = len(recs)
	})
	return page, err
}

// list finds the page of resources that starts at startIndex (1-based)
// and holds at most count of those the filter (nil: none) matches, and
// calls render with them (nil: "Resources": null), the total matched
// and the view they are to be shown in, under the lock.
func (h resourceHandler) list(r *http.Request, filter *efilter.Validator, startIndex, count int, render func(recs []*record, total int, v view)) error {
	st := h.s.store
	t := st.table(h.kind)
	v := h.view(r)
	if h.s.noListMembers {
		v.members = false
	}
	var expr fp.Expression
	if filter != nil {
		if err := h.s.refuseQuotes(r); err != nil {
			return err
		}
		expr = t.normalizeFilter(filter.GetFilter(), h.s.quirks.RawEscapes)
	}

	st.mu.RLock()
	defer st.mu.RUnlock()
	matches := t.order
	if expr != nil {
		if attr, value, ok := t.indexedEq(expr); ok {
			matches = h.s.caseExact(t, attr, value, t.lookup(attr, value))
		} else {
			var err error
			if matches, err = st.scan(t, expr); err != nil {
				return err
			}
		}
	}
	recs, total := h.s.page(matches, max(startIndex-1, 0), count)
	render(recs, total, v)
	return nil
}

// scan returns the resources expr matches, evaluated by elimity's filter
// validator. The caller holds the lock.
func (st *store) scan(t *table, expr fp.Expression) (out []*record, err error) {
	val := efilter.NewFilterValidator(expr, t.schema, t.exts...)
	withMembers := t.kind == kindGroup && mentions(expr, "members")
	defer func() {
		if recover() != nil {
			out, err = nil, invalidFilter("the filter cannot be applied to these resources")
		}
	}()
	for _, rec := range t.order {
		if val.PassesFilter(st.filterView(t, rec, withMembers)) == nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

// filterView is rec as elimity's filter evaluation reads it: attributes
// with id, extension attributes also under their full names, and members
// when the filter names them.
func (st *store) filterView(t *table, rec *record, withMembers bool) map[string]any {
	attrs := rec.attrMap()
	m := make(map[string]any, len(attrs)+8)
	for k, v := range attrs {
		m[k] = v
	}
	m["id"] = rec.id
	for _, e := range t.exts {
		if ext, ok := attrs[e.ID].(map[string]any); ok {
			for k, v := range ext {
				m[e.ID+":"+k] = v
			}
		}
	}
	if withMembers {
		m["members"] = st.memberValues(rec)
	}
	return m
}

// Replace replaces a whole resource (PUT, 200).
func (h resourceHandler) Replace(r *http.Request, id string, attributes escim.ResourceAttributes) (out escim.Resource, err error) {
	st := h.s.store
	err = st.replaceThen(h.kind, id, attributes, func(rec *record) { out = st.resource(h.kind, rec, h.view(r)) })
	return out, err
}

// replaceThen replaces resource id with attributes validated by elimity and
// calls render with it, under the lock.
func (st *store) replaceThen(k kind, id string, attributes map[string]any, render func(*record)) error {
	p, err := st.table(k).prepare(attributes)
	if err != nil {
		return err
	}
	return st.replacePrepared(k, id, p, render)
}

// replacePrepared replaces resource id with p and calls render with it,
// under the lock.
func (st *store) replacePrepared(k kind, id string, p prepared, render func(*record)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	rec, ok := st.table(k).get(id)
	if !ok {
		return notFound(k, id)
	}
	if err := st.replace(k, rec, p); err != nil {
		return err
	}
	render(rec)
	return nil
}

// Delete removes a resource (DELETE, 204); a deleted user leaves every
// group.
func (h resourceHandler) Delete(_ *http.Request, id string) error {
	st := h.s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	rec, ok := st.table(h.kind).get(id)
	if !ok {
		return notFound(h.kind, id)
	}
	st.delete(h.kind, rec)
	return nil
}

// Patch applies PATCH operations all or nothing. It returns no attributes,
// so elimity answers 204 No Content, as Netskope does on every success.
func (h resourceHandler) Patch(_ *http.Request, id string, ops []escim.PatchOperation) (escim.Resource, error) {
	st := h.s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	rec, ok := st.table(h.kind).get(id)
	if !ok {
		return escim.Resource{}, notFound(h.kind, id)
	}
	if err := st.patch(h.kind, rec, ops); err != nil {
		return escim.Resource{}, err
	}
	rec.modified = time.Now().UTC()
	return escim.Resource{}, nil
}
