package netskopetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	escim "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	efilter "github.com/elimity-com/scim/filter"
	"github.com/provsync/provsync/scim"
	fp "github.com/scim2/filter-parser/v2"
)

// The requests a sync makes by the thousand (POST and PUT of resources,
// reads of one resource and of list pages) are answered here rather than
// through elimity's Server.ServeHTTP, with the same answers. They still
// use elimity's schema validation and filter parser and validator; what
// is left out is elimity's per-request cost around them: it rebuilds the
// resource type's schema on every POST and PUT (compiling a name check
// for the externalId it adds), marshals every resource as a map through
// encoding/json, and marshals a list twice: together about a third of
// the server's CPU in examples/bench100k. DELETE is answered here too.
// PATCH still goes through elimity (but for PATCHes of members alone:
// directPatch), as do
// list requests whose count or startIndex are not integers (elimity
// answers those with its own error).

// serveDirect answers a POST, PUT, GET or DELETE, with body the request
// body of a POST or PUT. It reports false, having written nothing, for a request it
// leaves to elimity.
func (s *Server) serveDirect(w http.ResponseWriter, r *http.Request, rt route, body []byte) bool {
	if s.viaElimity.Load() {
		return false
	}
	h := resourceHandler{s: s, kind: rt.kind}
	switch {
	case r.Method == http.MethodPost || r.Method == http.MethodPut:
		s.directWrite(w, r, rt, body)
	case r.Method == http.MethodGet && rt.id != "":
		buf := s.getBuf()
		defer s.putBuf(buf)
		st := s.store
		err := st.getThen(rt.kind, rt.id, func(rec *record) {
			*buf = st.appendResource(*buf, rt.kind, rec, h.view(r))
		})
		if err != nil {
			s.writeHandlerError(w, err, r.Method)
			return true
		}
		writeSCIM(w, http.StatusOK, *buf)
	case r.Method == http.MethodGet:
		return s.directList(w, r, h)
	case r.Method == http.MethodDelete && rt.id != "":
		// As elimity: 204 without a body, or the handler's error.
		if err := h.Delete(r, rt.id); err != nil {
			s.writeHandlerError(w, err, r.Method)
			return true
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		return false
	}
	return true
}

// directWrite answers a POST (201 with the resource and its Location) or
// a PUT (200 with the resource).
func (s *Server) directWrite(w http.ResponseWriter, r *http.Request, rt route, body []byte) {
	st := s.store
	p, ok := st.table(rt.kind).scanBody(body, st.names)
	if !ok {
		var se *scimerrors.ScimError
		if p, se = s.prepareBody(r, rt.kind, body); se != nil {
			s.writeSCIMError(w, *se)
			return
		}
	}
	v := resourceHandler{s: s, kind: rt.kind}.view(r)
	buf := s.getBuf()
	defer s.putBuf(buf)
	render := func(rec *record) { *buf = st.appendResource(*buf, rt.kind, rec, v) }
	status := http.StatusOK
	var err error
	if r.Method == http.MethodPost {
		status = http.StatusCreated
		var id string
		err = st.createPrepared(rt.kind, p, func(rec *record) { id = rec.id; render(rec) })
		if err == nil {
			w.Header().Set("Location", locationOf(r, rt, id))
		}
	} else {
		err = st.replacePrepared(rt.kind, rt.id, p, render)
	}
	if err != nil {
		s.writeHandlerError(w, err, r.Method)
		return
	}
	writeSCIM(w, status, *buf)
}

// prepareBody reads a POST or PUT body that scanBody left: decoded,
// validated and prepared, or the error elimity would answer.
func (s *Server) prepareBody(r *http.Request, k kind, body []byte) (prepared, *scimerrors.ScimError) {
	st := s.store
	t := st.table(k)
	doc, err := decodeBody(body, st.names)
	if err != nil {
		return prepared{}, &scimerrors.ScimErrorInvalidSyntax
	}
	if k == kindUser {
		fixActive(doc) // as normalizeUserBody does for POST and PUT
	}
	attrs, err := t.validate(doc)
	if err != nil {
		// elimity writes its validation errors as they are.
		var se scimerrors.ScimError
		if !errors.As(err, &se) {
			se = scimerrors.CheckScimError(err, r.Method)
		}
		return prepared{}, &se
	}
	p, err := t.prepare(attrs)
	if err != nil {
		se := scimerrors.CheckScimError(err, r.Method)
		return prepared{}, &se
	}
	return p, nil
}

// directList answers a list request; it reports false for one whose
// count or startIndex is not an integer.
func (s *Server) directList(w http.ResponseWriter, r *http.Request, h resourceHandler) bool {
	q := r.URL.Query()
	// As elimity's parseRequestParams: count defaults to and is capped at
	// the page size, a negative count is 0, a startIndex below 1 is 1.
	count, ok := intParam(q, "count", s.maxPage)
	if !ok {
		return false
	}
	count = min(max(count, 0), s.maxPage)
	start, ok := intParam(q, "startIndex", 1)
	if !ok {
		return false
	}
	start = max(start, 1)
	var filter *efilter.Validator
	if f := strings.TrimSpace(q.Get("filter")); f != "" {
		t := s.store.table(h.kind)
		val, err := efilter.NewValidator(f, t.schema, t.exts...)
		if err == nil {
			err = val.Validate()
		}
		if err != nil {
			s.writeSCIMError(w, scimerrors.ScimErrorInvalidFilter)
			return true
		}
		filter = &val
	}
	buf := s.getBuf()
	defer s.putBuf(buf)
	err := h.list(r, filter, start, count, func(recs []*record, total int, v view) {
		*buf = s.store.appendList(*buf, h.kind, recs, v, start, total)
	})
	if err != nil {
		s.writeHandlerError(w, err, r.Method)
		return true
	}
	writeSCIM(w, http.StatusOK, *buf)
	return true
}

// intParam reads an integer query parameter as elimity does: def when
// absent or empty; ok is false when it is not an integer.
func intParam(q url.Values, key string, def int) (n int, ok bool) {
	v := q.Get(key)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// locationOf is the URL of the resource id a POST created.
func locationOf(r *http.Request, rt route, id string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + BasePath + rt.endpoint + "/" + url.PathEscape(id)
}

// writeHandlerError writes an error a resource handler or validation
// returned, as elimity would have passed it on (CheckScimError: anything
// but a SCIM error, or a status the method cannot have, is a 500).
func (s *Server) writeHandlerError(w http.ResponseWriter, err error, method string) {
	s.writeSCIMError(w, scimerrors.CheckScimError(err, method))
}

// writeSCIMError writes one of elimity's errors in the server's style.
func (s *Server) writeSCIMError(w http.ResponseWriter, se scimerrors.ScimError) {
	s.writeError(w, se.Status, string(se.ScimType), se.Detail)
}

// writeSCIM writes a SCIM body.
func writeSCIM(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", contentTypeSCIM)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// maxPooledBuf is the largest response buffer kept for reuse; a larger
// one (a page of groups with many members) is let go.
const maxPooledBuf = 4 << 20

// getBuf returns an empty response buffer.
func (s *Server) getBuf() *[]byte {
	if b, ok := s.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

// putBuf returns b for reuse.
func (s *Server) putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	s.bufs.Put(b)
}

// A group PATCH that only adds, removes or replaces members, each given
// as {"value": id} (what a sync sends, up to 1000 members a request), is
// answered without elimity's patch validation, which decodes the body
// twice and builds a map per member, to the same effect: the members
// reach the store as their ids. Anything else in a PATCH, down to a
// member with a display or a key in another case, goes to elimity.

// directPatch answers a group PATCH that parseMembersPatch reads; it
// reports false, having written nothing, for any other PATCH.
func (s *Server) directPatch(w http.ResponseWriter, r *http.Request, rt route, body []byte) bool {
	if s.viaElimity.Load() || rt.kind != kindGroup || rt.id == "" {
		return false
	}
	ops, ok := parseMembersPatch(body)
	if !ok {
		return false
	}
	if _, err := (resourceHandler{s: s, kind: rt.kind}).Patch(r, rt.id, ops); err != nil {
		s.writeHandlerError(w, err, r.Method)
		return true
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// parseMembersPatch reads a PATCH body whose every operation is add,
// remove or replace (in any case) on the path members (in any case),
// with a non-empty array of {"value": "id"} objects as its value, into
// the operations elimity's validation would give (values as memberList).
// It reports false for any other body: elimity is left to accept or
// refuse it. The body is decoded as elimity decodes it (the first JSON
// value; field names matched as encoding/json matches them).
func parseMembersPatch(body []byte) ([]escim.PatchOperation, bool) {
	if ops, ok := scanMembersPatch(body); ok {
		return ops, true
	}
	return decodeMembersPatch(body)
}

// decodeMembersPatch is parseMembersPatch by encoding/json.
func decodeMembersPatch(body []byte) ([]escim.PatchOperation, bool) {
	var req struct {
		Schemas    []string
		Operations []struct {
			Op, Path string
			Value    json.RawMessage
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if dec.Decode(&req) != nil || len(req.Schemas) != 1 || req.Schemas[0] != scim.SchemaPatchOp || len(req.Operations) == 0 {
		return nil, false
	}
	ops := make([]escim.PatchOperation, len(req.Operations))
	for i, o := range req.Operations {
		op, ok := membersOp(o.Op, o.Path, o.Value)
		if !ok {
			return nil, false
		}
		ops[i] = op
	}
	return ops, true
}

// membersOp makes the operation op on path with the JSON value raw, if
// it is an add, remove or replace of members given as {"value": id}.
func membersOp(op, path string, raw []byte) (escim.PatchOperation, bool) {
	d := plainDecoder{b: raw}
	ids, ok := d.memberArray()
	if d.space(); !ok || d.i != len(d.b) {
		return escim.PatchOperation{}, false
	}
	return membersOpOf(op, path, ids)
}

// membersOpOf makes the operation op on path with the member ids, if op
// is add, remove or replace (in any case) and path is members (in any
// case).
func membersOpOf(op, path string, ids memberList) (escim.PatchOperation, bool) {
	op = strings.ToLower(op)
	if op != "add" && op != "remove" && op != "replace" || !strings.EqualFold(path, keyMembers) {
		return escim.PatchOperation{}, false
	}
	return escim.PatchOperation{Op: op, Path: &fp.Path{AttributePath: fp.AttributePath{AttributeName: path}}, Value: ids}, true
}

// scanMembersPatch is parseMembersPatch for the body a sync sends, read
// in one pass rather than by encoding/json (which scans the body twice
// and copies each operation's value, 30% of a 1000-member PATCH): it
// reads a body whose keys are exactly schemas and Operations, and op,
// path and value in each operation, each once. It reports false for
// any other body, which parseMembersPatch then reads with encoding/json;
// on the bodies it reads, the two agree.
func scanMembersPatch(body []byte) ([]escim.PatchOperation, bool) {
	// The ids are looked up and let go: parts of one copy of the body.
	d := plainDecoder{b: body, src: string(body)}
	if !d.next('{') {
		return nil, false
	}
	var ops []escim.PatchOperation
	var schemas, operations bool
	for {
		d.space()
		k, ok := d.str()
		if !ok || !d.next(':') {
			return nil, false
		}
		switch {
		case k == "schemas" && !schemas:
			schemas = true
			if !d.next('[') {
				return nil, false
			}
			d.space()
			if urn, ok := d.str(); !ok || urn != scim.SchemaPatchOp || !d.next(']') {
				return nil, false
			}
		case k == "Operations" && !operations:
			operations = true
			if ops, ok = d.membersOps(); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
		if d.next('}') {
			return ops, schemas && len(ops) > 0
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

// membersOps reads a non-empty array of operations whose keys are
// exactly op, path and value, each once, as membersOp accepts them.
func (d *plainDecoder) membersOps() ([]escim.PatchOperation, bool) {
	if !d.next('[') {
		return nil, false
	}
	var ops []escim.PatchOperation
	for {
		if !d.next('{') {
			return nil, false
		}
		var op, path string
		var ids memberList
		var seen [3]bool // op, path, value
		for {
			d.space()
			k, ok := d.str()
			if !ok || !d.next(':') {
				return nil, false
			}
			d.space()
			switch {
			case k == "op" && !seen[0]:
				seen[0] = true
				op, ok = d.str()
			case k == "path" && !seen[1]:
				seen[1] = true
				path, ok = d.str()
			case k == "value" && !seen[2]:
				seen[2] = true
				ids, ok = d.memberArray()
			default:
				ok = false
			}
			if !ok {
				return nil, false
			}
			if d.next('}') {
				break
			}
			if !d.next(',') {
				return nil, false
			}
		}
		if !seen[0] || !seen[1] || !seen[2] {
			return nil, false
		}
		o, ok := membersOpOf(op, path, ids)
		if !ok {
			return nil, false
		}
		ops = append(ops, o)
		if d.next(']') {
			return ops, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

// memberArray reads a non-empty JSON array of {"value": "id"} objects,
// with nothing else in them, into the ids; ok is false for anything else.
func (d *plainDecoder) memberArray() (ids memberList, ok bool) {
	if !d.next('[') {
		return nil, false
	}
	end := bytes.IndexByte(d.b[d.i:], ']') // the end, unless an id holds a ]
	if end < 0 {
		return nil, false
	}
	ids = make(memberList, 0, bytes.Count(d.b[d.i:d.i+end], []byte("{")))
	for {
		if !d.next('{') || !d.next('"') || !d.literal(`value"`) || !d.next(':') {
			return nil, false
		}
		d.space()
		id, ok := d.str()
		if !ok || !d.next('}') {
			return nil, false
		}
		ids = append(ids, id)
		if d.next(']') {
			return ids, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}
