package netskopetest

import (
	"bytes"
	"slices"
	"strings"
)

// A POST or PUT body of the usual shape is read straight into the
// attribute set a record keeps (attrs.go), without the maps that
// decodeBody, validate and prepare build and attrSetOf encodes again:
// those maps were a third of the server's CPU per create. scanBody
// gives exactly what that path gives (FuzzScanBody compares the two),
// or reports false for a body it is not sure of, which then takes that
// path: one with a number, a string "active", a key in another case, a
// lone object for a list, anything validateFast leaves to elimity or
// prepare refuses.

// maxScanDepth is the deepest nesting scanBody reads; a user with the
// enterprise extension is 3 deep (extension, manager, its value).
const maxScanDepth = 4

// maxScanMembers bounds the members of one object that scanBody reads
// (members sorts them in a buffer of this size on the stack); a user
// has a dozen or so.
const maxScanMembers = 64

// scanNode is one JSON value of a body as scanBody reads it. The values
// inside an object or array follow it, in order.
type scanNode struct {
	name       string // the key of an object's member
	kind       byte   // '{', '[', '"', 't', 'f' or 'n'
	start, end int    // the value's bytes in the body; a string's with its quotes
	size       int    // nodes of the value, itself and those inside it
	// text is a string's value when it is not plain (see stringEnd:
	// a plain string's value is its bytes between the quotes).
	text  string
	plain bool
}

// bodyScanner reads a body into nodes. A table keeps them for reuse.
type bodyScanner struct {
	plainDecoder
	nodes []scanNode
	out   []byte // scanBody's encoding, before it is copied
}

// maxPooledScanner is the most nodes of a bodyScanner kept for reuse
// (and, times 16, bytes of its output).
const maxPooledScanner = 1024

// putScanner keeps s for reuse, unless a large body made it large.
func (t *table) putScanner(s *bodyScanner) {
	if cap(s.nodes) > maxPooledScanner || cap(s.out) > 16*maxPooledScanner {
		return
	}
	clear(s.nodes) // the strings
	s.nodes = s.nodes[:0]
	s.plainDecoder = plainDecoder{}
	t.scanners.Put(s)
}

// value reads one value at d.i into s.nodes.
func (s *bodyScanner) value(name string, depth int) bool {
	s.space()
	if depth > maxScanDepth || s.i >= len(s.b) {
		return false
	}
	at := len(s.nodes)
	s.nodes = append(s.nodes, scanNode{name: name, kind: s.b[s.i], start: s.i})
	ok := false
	switch s.b[s.i] {
	case '{':
		ok = s.object(depth)
	case '[':
		ok = s.array(depth)
	case '"':
		ok = s.scanString(at)
	case 't':
		ok = s.word("true")
	case 'f':
		ok = s.word("false")
	case 'n':
		ok = s.word("null")
	}
	n := &s.nodes[at]
	n.end, n.size = s.i, len(s.nodes)-at
	return ok
}

func (s *bodyScanner) object(depth int) bool {
	s.i++ // {
	if s.next('}') {
		return true
	}
	for range maxScanMembers {
		s.space()
		k, ok := s.key()
		if !ok || !s.next(':') || !s.value(k, depth+1) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
	return false
}

func (s *bodyScanner) array(depth int) bool {
	s.i++ // [
	if s.next(']') {
		return true
	}
	for {
		if !s.value("", depth+1) {
			return false
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// scanString reads the string of node at: a plain one (see stringEnd)
// by its bytes, any other by str (as decodeBody reads it).
func (s *bodyScanner) scanString(at int) bool {
	end, plain, ok := stringEnd(s.b, s.i)
	if !ok {
		return false
	}
	if plain {
		s.i = end
		s.nodes[at].plain = true
		return true
	}
	text, ok := s.str()
	s.nodes[at].text = text
	return ok
}

// text returns the value of the string node n.
func (s *bodyScanner) text(n *scanNode) string {
	if n.plain {
		return string(s.b[n.start+1 : n.end-1])
	}
	return n.text
}

// members returns the nodes of the members of the object node obj, by
// name in byte order, the last of those with one name only (as a map
// decoded from the object holds them).
func (s *bodyScanner) members(obj int, buf []int) []int {
	out := buf[:0]
	for c := obj + 1; c < obj+s.nodes[obj].size; c += s.nodes[c].size {
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b int) int { return strings.Compare(s.nodes[a].name, s.nodes[b].name) })
	keep := out[:0]
	for i, c := range out {
		if i+1 < len(out) && s.nodes[out[i+1]].name == s.nodes[c].name {
			continue // a later one of the name wins
		}
		keep = append(keep, c)
	}
	return keep
}

// scanBody reads body, a POST or PUT body for table t, as decodeBody,
// fixActive, validateFast and prepare would, into what prepare gives;
// ok is false for a body it leaves to them. Object keys found in names
// are given as names holds them.
func (t *table) scanBody(body []byte, names map[string]string) (p prepared, ok bool) {
	s, _ := t.scanners.Get().(*bodyScanner)
	if s == nil {
		s = &bodyScanner{nodes: make([]scanNode, 0, 32), out: make([]byte, 0, 1024)}
	}
	s.plainDecoder = plainDecoder{b: body, names: names}
	defer t.putScanner(s)
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' || !s.value("", 0) {
		return prepared{}, false
	}
	var arr [maxScanMembers]int
	top := s.members(0, arr[:])
	for _, name := range t.fast.required {
		if !s.has(top, name) {
			return prepared{}, false // validate refuses it
		}
	}
	b := s.out[:0]
	defer func() { s.out = b }()
	// The string attributes attrSet holds: their nodes, and where their
	// values are written in b.
	type written struct {
		n  *scanNode
		at int
	}
	var key, ext, display, userName written
	next := 0
	for _, c := range top {
		n := &s.nodes[c]
		name := n.name
		if t.kind == kindUser && strings.EqualFold(name, "active") && n.kind == '"' {
			return prepared{}, false // fixActive's
		}
		var extSchema *fastSchema
		for i, e := range t.exts {
			if name == e.ID {
				extSchema = t.fastExts[i]
			}
		}
		a := t.fast.byName[name]
		switch {
		case extSchema != nil:
			if n.kind == 'n' {
				continue
			}
			if n.kind != '{' {
				return prepared{}, false
			}
		case a == nil:
			if !isASCII(name) || t.fast.folded[strings.ToLower(name)] {
				return prepared{}, false // another case of a name: elimity's
			}
			continue // ignored
		case n.kind == 'n' || a.readOnly:
			continue // dropped
		}
		for next < len(renderedNames) && renderedNames[next] < name {
			p.attrs.cuts[next] = uint32(len(b))
			next++
		}
		mark := len(b)
		b = append(b, ',')
		b = appendString(b, name)
		b = append(b, ':')
		at := len(b)
		var kept bool
		if extSchema != nil {
			b, kept, ok = s.appendLevel(b, c, extSchema)
		} else {
			b, kept, ok = s.appendAttr(b, c, a)
		}
		if !ok {
			return prepared{}, false
		}
		switch {
		case t.kind == kindGroup && name == keyMembers:
			if p.members, ok = s.memberIDs(c); !ok {
				return prepared{}, false // prepare refuses it
			}
			kept = false
		case slices.Contains(renderedNames[:], name):
			return prepared{}, false // attrSetOf keeps such a map
		case slices.Contains(t.neverReturned, name):
			kept = false
		}
		if !kept {
			b = b[:mark]
			continue
		}
		w := written{n, at}
		if name == t.keyAttr {
			key = w
		}
		switch name {
		case "externalId":
			ext = w
		case "displayName":
			display = w
		case "userName":
			userName = w
		}
	}
	for ; next < len(renderedNames); next++ {
		p.attrs.cuts[next] = uint32(len(b))
	}
	enc := string(b)
	text := func(w written) string {
		if w.n == nil || w.n.kind != '"' {
			return ""
		}
		if s.verbatim(w.n) {
			return enc[w.at+1 : w.at+w.n.end-w.n.start-1] // no copy of its own
		}
		return s.text(w.n)
	}
	p.attrs.enc = enc
	if p.attrs.keyValue = text(key); p.attrs.keyValue == "" {
		return prepared{}, false // prepare refuses it
	}
	p.attrs.ext = text(ext)
	if t.kind == kindUser {
		if p.attrs.display = text(display); p.attrs.display == "" {
			p.attrs.display = text(userName)
		}
	}
	return p, true
}

// has reports whether the members top hold name with a value other
// than null.
func (s *bodyScanner) has(top []int, name string) bool {
	for _, c := range top {
		if s.nodes[c].name == name {
			return s.nodes[c].kind != 'n'
		}
	}
	return false
}

// appendLevel appends the object node obj, validated against fs as
// fastSchema.validate does and tidied as prepare does; kept is false
// when nothing of it is left.
func (s *bodyScanner) appendLevel(b []byte, obj int, fs *fastSchema) (_ []byte, kept, ok bool) {
	var arr [maxScanMembers]int
	ms := s.members(obj, arr[:])
	b = append(b, '{')
	start := len(b)
	for _, c := range ms {
		n := &s.nodes[c]
		a := fs.byName[n.name]
		if a == nil {
			if !isASCII(n.name) || fs.folded[strings.ToLower(n.name)] {
				return b, false, false
			}
			continue
		}
		if n.kind == 'n' || a.readOnly {
			continue
		}
		mark := len(b)
		if len(b) > start {
			b = append(b, ',')
		}
		b = appendString(b, n.name)
		b = append(b, ':')
		var keptAttr bool
		if b, keptAttr, ok = s.appendAttr(b, c, a); !ok {
			return b, false, false
		}
		if !keptAttr {
			b = b[:mark]
		}
	}
	for _, name := range fs.required {
		if !s.has(ms, name) {
			return b, false, false
		}
	}
	return append(b, '}'), len(b) > start, true
}

// appendAttr appends node c, the non-null value of the writable
// attribute a, as fastAttr.check accepts it and prepare tidies it; kept
// is false for an empty list or object, which prepare drops.
func (s *bodyScanner) appendAttr(b []byte, c int, a *fastAttr) (_ []byte, kept, ok bool) {
	n := &s.nodes[c]
	if !a.multi {
		return s.appendSingular(b, c, a)
	}
	if n.kind != '[' {
		return b, false, false
	}
	if n.size == 1 {
		return b, false, !a.required // elimity's nil list, dropped
	}
	b = append(b, '[')
	for e := c + 1; e < c+n.size; e += s.nodes[e].size {
		if e > c+1 {
			b = append(b, ',')
		}
		if b, _, ok = s.appendSingular(b, e, a); !ok {
			return b, false, false
		}
	}
	return append(b, ']'), true, true
}

// appendSingular appends node c as a value that fastAttr.checkSingular
// accepts for a; kept is false for a complex value without members.
func (s *bodyScanner) appendSingular(b []byte, c int, a *fastAttr) (_ []byte, kept, ok bool) {
	n := &s.nodes[c]
	switch a.typ {
	case "string", "reference":
		if n.kind != '"' {
			return b, false, false
		}
		return s.appendString(b, n), true, true
	case "boolean":
		if n.kind != 't' && n.kind != 'f' {
			return b, false, false
		}
		return append(b, s.b[n.start:n.end]...), true, true
	case "complex":
		if n.kind != '{' || a.subs == nil {
			return b, false, false
		}
		var arr [maxScanMembers]int
		ms := s.members(c, arr[:])
		b = append(b, '{')
		for i, m := range ms {
			sn := &s.nodes[m]
			sub := a.subs.byName[sn.name]
			if sub == nil || sn.kind == 'n' || sub.readOnly || sub.multi || sub.typ == "complex" {
				return b, false, false
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, sn.name)
			b = append(b, ':')
			if b, _, ok = s.appendSingular(b, m, sub); !ok {
				return b, false, false
			}
		}
		for _, name := range a.subs.required {
			if !s.has(ms, name) {
				return b, false, false
			}
		}
		return append(b, '}'), len(ms) > 0, true
	}
	return b, false, false
}

// appendString appends the string node n as encoding/json writes its
// value.
func (s *bodyScanner) appendString(b []byte, n *scanNode) []byte {
	if s.verbatim(n) {
		return append(b, s.b[n.start:n.end]...)
	}
	return appendString(b, s.text(n))
}

// verbatim reports whether encoding/json writes the value of the
// string node n as the body has it: plain, and without the HTML
// characters and the line and paragraph separators it escapes.
func (s *bodyScanner) verbatim(n *scanNode) bool {
	raw := s.b[n.start:n.end]
	return n.plain && !bytes.ContainsAny(raw, "<>&") &&
		!bytes.Contains(raw, []byte("\u2028")) && !bytes.Contains(raw, []byte("\u2029"))
}

// memberIDs returns the ids of the members list node c, as prepare's
// memberIDs reads them; ok is false if one has none.
func (s *bodyScanner) memberIDs(c int) ([]string, bool) {
	n := &s.nodes[c]
	ids := make([]string, 0, n.size/3)
	var arr [maxScanMembers]int
	var src string // the body, of which plain ids are parts: they are let go after the request
	for e := c + 1; e < c+n.size; e += s.nodes[e].size {
		id := ""
		for _, m := range s.members(e, arr[:]) {
			sn := &s.nodes[m]
			switch {
			case sn.name != "value" || sn.kind != '"':
			case sn.plain:
				if src == "" {
					src = string(s.b)
				}
				id = src[sn.start+1 : sn.end-1]
			default:
				id = sn.text
			}
		}
		if id == "" {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}
