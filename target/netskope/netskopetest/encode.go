package netskopetest

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provsync/provsync/scim"
)

// The server writes resources and list responses itself, byte for byte
// as elimity writes them (json.Marshal of a map: keys sorted, HTML
// characters escaped), without building a map per resource and member
// or encoding a list twice (elimity marshals the list as a map and
// encoding/json then compacts that output again).

// listSchema is the schema URN of a list response.
const listSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it.
func appendString(b []byte, s string) []byte { return scim.AppendString(b, s) }

// appendMarshal appends json.Marshal's encoding of v.
func appendMarshal(b []byte, v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		// Values come from decoded JSON and cannot fail to encode; null
		// keeps the output valid should one ever do so.
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendValue appends a decoded JSON value (what schema validation and
// PATCH store: strings, booleans, objects, arrays, numbers) as
// encoding/json writes it.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case nil:
		return append(b, "null"...)
	case map[string]any:
		if x == nil {
			return append(b, "null"...)
		}
		return appendObject(b, x)
	case []any:
		if x == nil {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	}
	return appendMarshal(b, v)
}

// appendObject appends m with its keys in byte order, as encoding/json
// sorts map keys.
func appendObject(b []byte, m map[string]any) []byte {
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendValue(b, m[k])
	}
	return append(b, '}')
}

// Names the server adds to every resource it writes.
const (
	keyID      = "id"
	keySchemas = "schemas"
	keyMeta    = "meta"
	keyMembers = "members"
)

// appendResource appends rec as elimity writes the resource that
// st.resource renders: its attributes less those v excludes, the
// members of a group when v asks for them, and id, schemas and meta. The
// caller holds the lock.
func (st *store) appendResource(b []byte, k kind, rec *record, v view) []byte {
	withMembers := k == kindGroup && v.members && (len(rec.members) > 0 || !v.noEmptyMembers)
	if rec.m == nil && v.excluded == nil {
		return st.appendEncoded(b, k, rec, withMembers)
	}
	attrs := rec.attrMap()
	var arr [20]string
	keys := append(arr[:0], keyID, keySchemas, keyMeta)
	for name := range attrs {
		if name == keyID || name == keySchemas || name == keyMeta || v.excluded != nil && v.excluded[strings.ToLower(name)] {
			continue
		}
		if k == kindGroup && name == keyMembers {
			continue
		}
		keys = append(keys, name)
	}
	if withMembers {
		keys = append(keys, keyMembers)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, name := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, name)
		b = append(b, ':')
		switch {
		case name == keyID:
			b = appendString(b, rec.id)
		case name == keySchemas:
			b = st.appendSchemas(b, k)
		case name == keyMeta:
			b = appendMeta(b, k, rec)
		case name == keyMembers && withMembers:
			b = st.appendMembers(b, rec)
		default:
			b = appendValue(b, attrs[name])
		}
	}
	return append(b, '}')
}

// appendSchemas appends the schemas of a resource type: the core schema
// and its extensions.
func (st *store) appendSchemas(b []byte, k kind) []byte {
	t := st.table(k)
	b = append(b, '[')
	b = appendString(b, t.schema.ID)
	for _, e := range t.exts {
		b = append(b, ',')
		b = appendString(b, e.ID)
	}
	return append(b, ']')
}

// appendMeta appends meta in the order of elimity's meta struct.
func appendMeta(b []byte, k kind, rec *record) []byte {
	b = append(b, `{"resourceType":`...)
	b = appendString(b, k.String())
	b = append(b, `,"created":`...)
	b = appendTime(b, rec.created)
	b = append(b, `,"lastModified":`...)
	b = appendTime(b, rec.modified)
	b = append(b, `,"location":`...)
	// k.String()+"s/"+url.PathEscape(rec.id) as a JSON string, without
	// making that string: the prefix needs no escaping.
	b = append(b, '"')
	b = append(b, k.String()...)
	b = append(b, "s/"...)
	at := len(b)
	b = appendString(b, url.PathEscape(rec.id))
	b = append(b[:at], b[at+1:]...) // the escaped id's opening quote
	return append(b, '}')
}

// appendTime appends t as a quoted RFC 3339 time.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendMembers appends g's members as memberValues gives them:
// [{"display": name, "value": id}, ...] in the order they were added.
// The caller holds the lock.
func (st *store) appendMembers(b []byte, g *record) []byte {
	b = append(b, '[')
	for i, num := range st.memberOrder(g) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, st.user(num).asMember...)
	}
	return append(b, ']')
}

// appendMember appends the user u as a group member, {"display": name,
// "value": id}.
func appendMember(b []byte, u *record) []byte {
	b = slices.Grow(b, len(`{"display":,"value":}`)+len(u.display)+len(u.id)+8)
	b = append(b, `{"display":`...)
	b = appendString(b, u.display)
	b = append(b, `,"value":`...)
	b = appendString(b, u.id)
	return append(b, '}')
}

// appendList appends a list response of recs as elimity writes it, with
// itemsPerPage the number of resources returned; nil recs give
// "Resources": null. The caller holds the lock.
func (st *store) appendList(b []byte, k kind, recs []*record, v view, start, total int) []byte {
	// Room for the page at once: grown as it is written, a page of
	// groups with 200,000 members (15 MB) was copied over and over, 10%
	// of the server's CPU in a drift check. The sizes are estimates: a
	// resource's attributes and meta, and a member's display and id.
	n := 0
	for _, rec := range recs {
		n += 600
		if k == kindGroup && v.members {
			n += 96 * len(rec.members)
		}
	}
	b = slices.Grow(b, n)
	b = append(b, `{"Resources":`...)
	if recs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, rec := range recs {
			if i > 0 {
				b = append(b, ',')
			}
			b = st.appendResource(b, k, rec, v)
		}
		b = append(b, ']')
	}
	b = append(b, `,"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(len(recs)), 10)
	b = append(b, `,"schemas":["`+listSchema+`"],"startIndex":`...)
	b = strconv.AppendInt(b, int64(start), 10)
	b = append(b, `,"totalResults":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	return append(b, '}')
}
