package netskopetest

import (
	"slices"
	"unicode/utf8"
)

// A record keeps its attributes encoded, as one string of JSON object
// members in the order encoding/json writes a map's keys, rather than
// as the map[string]any validation gives. At 100,000 users the maps
// (a map per user, another per name and email, a string per value) were
// most of the objects the garbage collector marked; the string holds no
// pointers. A read copies the members, with id, meta, schemas and a
// group's members put in their places, instead of sorting and encoding
// a map per resource. The few paths that need the attributes as a map
// (PATCH, filters that scan, elimity's handler, Users and Groups)
// decode them when they do. Attributes that the encoding would not give
// back unchanged (a number, say) stay a map.

// Names a record's attributes are rendered around: the keys of a
// resource that are not attributes, in byte order. cuts holds, for
// each, where it falls among the attributes.
var renderedNames = [...]string{keyID, keyMembers, keyMeta, keySchemas}

// attrSet is a resource's attributes as a record keeps them, with the
// values the store indexes.
type attrSet struct {
	// m holds the attributes when enc cannot (see encodable); nil
	// otherwise.
	m map[string]any
	// enc is the attributes, each as `,"name":value` as encoding/json
	// writes it, by name in byte order (as encoding/json sorts a map's
	// keys).
	enc string
	// cuts[i] is the offset in enc before which renderedNames[i] falls.
	cuts [len(renderedNames)]uint32
	// keyValue is the value of the table's key attribute (userName,
	// displayName); ext is the externalId.
	keyValue, ext string
	// display (users only) is how the user shows as a group member:
	// its displayName, else its userName.
	display string
}

// attrSetOf makes the attribute set of attrs, attributes of a resource
// of kind k with the key attribute keyAttr, as prepare leaves them;
// attrs is not changed and, unless it stays the set's map, not kept.
func attrSetOf(k kind, keyAttr string, attrs map[string]any) attrSet {
	a := attrSet{keyValue: strAttr(attrs, keyAttr), ext: strAttr(attrs, "externalId")}
	if k == kindUser {
		a.display = strAttr(attrs, "displayName")
		if a.display == "" {
			a.display = strAttr(attrs, "userName")
		}
	}
	if !encodable(attrs, 0) {
		a.m = attrs
		return a
	}
	for _, name := range renderedNames {
		if _, ok := attrs[name]; ok {
			a.m = attrs // never so after prepare; kept as before
			return a
		}
	}
	var arr [24]string
	names := arr[:0]
	for name := range attrs {
		names = append(names, name)
	}
	slices.Sort(names)
	b := make([]byte, 0, 256)
	next := 0
	for _, name := range names {
		for next < len(renderedNames) && renderedNames[next] < name {
			a.cuts[next] = uint32(len(b))
			next++
		}
		b = append(b, ',')
		b = appendString(b, name)
		b = append(b, ':')
		b = appendValue(b, attrs[name])
	}
	for ; next < len(renderedNames); next++ {
		a.cuts[next] = uint32(len(b))
	}
	a.enc = string(b)
	return a
}

// maxEncodableDepth bounds the nesting attrSetOf encodes; decodeBody
// reads deeper values by encoding/json, which gives the same values,
// but no schema nests so deep.
const maxEncodableDepth = 6

// encodable reports whether decoding the JSON encoding of v (as
// appendValue writes it) by decodeBody gives a value equal to v: v is
// made of strings of valid UTF-8, booleans, nulls, and non-nil maps and
// slices of them.
func encodable(v any, depth int) bool {
	if depth > maxEncodableDepth {
		return false
	}
	switch x := v.(type) {
	case nil, bool:
		return true
	case string:
		return utf8.ValidString(x)
	case map[string]any:
		if x == nil {
			return false
		}
		for k, e := range x {
			if !utf8.ValidString(k) || !encodable(e, depth+1) {
				return false
			}
		}
		return true
	case []any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !encodable(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// attrMap returns the attributes as a map, which the caller must not
// change: the record's own map, or one decoded afresh.
func (a *attrSet) attrMap() map[string]any {
	if a.m != nil {
		return a.m
	}
	if a.enc == "" {
		return map[string]any{}
	}
	b := make([]byte, 0, len(a.enc)+1)
	b = append(b, '{')
	b = append(b, a.enc[1:]...)
	b = append(b, '}')
	m, err := decodeBody(b, nil)
	if err != nil || m == nil {
		// enc is valid JSON by construction (TestAttrSetRoundTrip).
		return map[string]any{}
	}
	return m
}

// attrCopy returns the attributes as a map the caller may change.
func (a *attrSet) attrCopy() map[string]any {
	if a.m != nil {
		return deepCopy(a.m).(map[string]any)
	}
	return a.attrMap()
}

// appendEncoded appends rec, whose attributes are encoded (rec.m is
// nil), as appendResource does: the attributes with id, meta, schemas
// and, if withMembers, a group's members in their places.
func (st *store) appendEncoded(b []byte, k kind, rec *record, withMembers bool) []byte {
	start := len(b)
	prev := 0
	for i, name := range renderedNames {
		cut := int(rec.cuts[i])
		b = append(b, rec.enc[prev:cut]...)
		prev = cut
		switch name {
		case keyID:
			b = append(b, `,"id":`...)
			b = appendString(b, rec.id)
		case keyMembers:
			if withMembers {
				b = append(b, `,"members":`...)
				b = st.appendMembers(b, rec)
			}
		case keyMeta:
			b = append(b, `,"meta":`...)
			b = appendMeta(b, k, rec)
		case keySchemas:
			b = append(b, `,"schemas":`...)
			b = st.appendSchemas(b, k)
		}
	}
	b = append(b, rec.enc[prev:]...)
	b[start] = '{' // for the first member's comma
	return append(b, '}')
}
