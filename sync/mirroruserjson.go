package sync

import (
	"unsafe"

	"github.com/provsync/provsync/scim"
)

// appendPackedJSON appends the JSON of the user of compact form b, byte
// for byte what scim.User.AppendJSON makes of the user unpackUser reads,
// without making that user: a journal line or state file takes the JSON
// of every created user's mirror, where unpacking made seven objects a
// user. It reads the attributes in the order appendPackedUser writes
// them, which is their order in JSON too; false, and out as it was, for
// anything else (a form in another order, or broken), which the caller
// unpacks instead.
//
// The form is read in place, not copied into a string first (one
// allocation of the form's size for every mirror a journal line or a
// state file holds): its values are only appended to out, no string read
// from it outlives the call, and a mirror's form is never changed once
// made (see Mirror).
func appendPackedJSON(out, b []byte) ([]byte, bool) {
	if !isPacked(b) {
		return out, false
	}
	w := packedJSON{d: userUnpacker{s: unsafe.String(unsafe.SliceData(b[1:]), len(b)-1)}, ok: true}
	start := len(out)
	out = append(out, '{')
	n := len(out)
	out = w.texts(out, n, userKeys[:1])
	if v, ok := w.next(tagUserName); ok {
		if v.kind != strText && v.kind != strUUID {
			return out[:start], false // a reference, which a userName never is
		}
		w.userName = v
	}
	out = w.str(scim.AppendKey(out, n, "userName"), w.userName)
	if w.at(tagName) {
		out = append(scim.AppendKey(out, n, "name"), '{')
		m := len(out)
		for _, a := range nameParts {
			v, ok := w.next(a.tag)
			if !ok {
				continue
			}
			if v.kind == strUserName {
				v = w.userName
			}
			switch a.tag {
			case tagGivenName:
				w.given = v
			case tagFamilyName:
				w.family = v
			}
			out = w.field(out, m, a.name, v)
		}
		out = append(out, '}')
		w.named = true
	}
	out = w.texts(out, n, userTexts[:])
	switch {
	case w.at(tagActiveTrue):
		out = append(scim.AppendKey(out, n, "active"), "true"...)
	case w.at(tagActiveFalse):
		out = append(scim.AppendKey(out, n, "active"), "false"...)
	}
	out = w.items(out, n, tagEmail, "emails")
	out = w.items(out, n, tagPhone, "phoneNumbers")
	for first := true; w.at(tagAddress); first = false {
		out = w.listItem(out, n, first, "addresses")
		m := len(out)
		for _, a := range addressParts {
			if v, ok := w.next(a.tag); ok {
				out = w.field(out, m, a.name, v)
			}
		}
		out = w.endItem(w.typeAndPrimary(out, m), tagAddress)
	}
	if w.at(tagEnterprise) {
		out = append(scim.AppendKey(out, n, scim.SchemaEnterpriseUser), '{')
		m := len(out)
		for _, a := range enterpriseParts {
			if v, ok := w.next(a.tag); ok {
				out = w.field(out, m, a.name, v)
			}
		}
		if w.at(tagManager) {
			out = append(scim.AppendKey(out, m, "manager"), '{')
			k := len(out)
			for _, part := range [...]struct {
				tag  byte
				name string
			}{{tagManagerValue, "value"}, {tagManagerRef, "$ref"}, {tagManagerDisplayName, "displayName"}} {
				if v, ok := w.next(part.tag); ok {
					out = w.field(out, k, part.name, v)
				}
			}
			out = append(out, '}')
		}
		out = append(out, '}')
	}
	if !w.ok || w.d.i != len(w.d.s) {
		return out[:start], false
	}
	return append(out, '}'), true
}

// packedJSON reads a user's compact form for appendPackedJSON.
type packedJSON struct {
	d userUnpacker // its user is not used
	// userName, given and family are the values a later one may refer
	// to; named is set once the name was read.
	userName, given, family packedValue
	named                   bool
	ok                      bool // false once the form was found broken
}

// at reports whether the next attribute has tag t, and if so moves past
// its tag.
func (w *packedJSON) at(t byte) bool {
	if w.d.i < len(w.d.s) && w.d.s[w.d.i] == t {
		w.d.i++
		return true
	}
	return false
}

// next reads the value of the next attribute if its tag is t.
func (w *packedJSON) next(t byte) (packedValue, bool) {
	if !w.ok || !w.at(t) {
		return packedValue{}, false
	}
	v, ok := w.d.rawValue()
	w.ok = ok
	return v, ok
}

// texts writes the attributes of attrs the form holds next, in order.
func (w *packedJSON) texts(out []byte, start int, attrs []textAttr[scim.User]) []byte {
	for _, a := range attrs {
		if v, ok := w.next(a.tag); ok {
			out = w.field(out, start, a.name, v)
		}
	}
	return out
}

// items writes the emails or phone numbers (tag t) the form holds next,
// as the list key.
func (w *packedJSON) items(out []byte, start int, t byte, key string) []byte {
	for first := true; w.at(t); first = false {
		out = w.listItem(out, start, first, key)
		m := len(out)
		for _, part := range [...]struct {
			tag  byte
			name string
		}{{tagValue, "value"}, {tagDisplay, "display"}} {
			if v, ok := w.next(part.tag); ok {
				out = w.field(out, m, part.name, v)
			}
		}
		out = w.endItem(w.typeAndPrimary(out, m), t)
	}
	return out
}

// endItem ends the list of items of tag t after the item just written,
// unless another follows.
func (w *packedJSON) endItem(out []byte, t byte) []byte {
	if w.d.i < len(w.d.s) && w.d.s[w.d.i] == t {
		return out
	}
	return append(out, ']')
}

// listItem begins an item of list key: the key and the list first.
func (w *packedJSON) listItem(out []byte, start int, first bool, key string) []byte {
	if first {
		out = append(scim.AppendKey(out, start, key), '[')
	} else {
		out = append(out, ',')
	}
	return append(out, '{')
}

// typeAndPrimary writes the type and primary flag of the item begun
// last, and ends it.
func (w *packedJSON) typeAndPrimary(out []byte, start int) []byte {
	if v, ok := w.next(tagType); ok {
		out = w.field(out, start, "type", v)
	}
	if w.at(tagPrimary) {
		out = append(scim.AppendKey(out, start, "primary"), "true"...)
	}
	return append(out, '}')
}

// field writes member key with value v, unless v is empty (as
// AppendJSON leaves out an empty string).
func (w *packedJSON) field(out []byte, start int, key string, v packedValue) []byte {
	if v.kind == strUserName {
		v = w.userName
	}
	if v.kind == strText && v.s == "" {
		return out
	}
	return w.str(scim.AppendKey(out, start, key), v)
}

// str writes v as a JSON string.
func (w *packedJSON) str(out []byte, v packedValue) []byte {
	switch v.kind {
	case strUUID:
		return append(appendUnpackedUUID(append(out, '"'), v.s), '"')
	case strUserName:
		return w.str(out, w.userName)
	case strFullName:
		// The given name, a space and the family name: the two strings
		// written, the quotes between them taken out.
		if !w.named || w.given.kind > strUUID || w.family.kind > strUUID {
			w.ok = false
			return out
		}
		out = w.str(out, w.given)
		out[len(out)-1] = ' '
		k := len(out)
		out = w.str(out, w.family)
		return append(out[:k], out[k+1:]...)
	}
	return scim.AppendString(out, v.s)
}
