package netskopetest

import (
	"strings"

	"github.com/elimity-com/scim/schema"
)

// A POST or PUT body of the usual shape is checked against the schema
// here rather than by elimity's Schema.Validate, with the same result:
// elimity compares every attribute of the schema with every key of the
// body (strings.EqualFold) and copies every object and list it accepts,
// which was a tenth of the server's CPU in examples/bench100k, and its
// copies as much again in garbage collection. A body this check is not
// sure of (an attribute named in another case, a null, a read-only or
// unknown sub-attribute, a type other than string, boolean or complex,
// anything elimity would refuse) goes to elimity as before, so the
// result and any error are elimity's.

// fastSchema is a schema's attributes, indexed for validateFast.
type fastSchema struct {
	byName map[string]*fastAttr // by canonical name
	// folded holds the lower-cased names; a body key that is not a
	// canonical name but folds to one is left to elimity.
	folded   map[string]bool
	required []string // names of the required attributes
}

// fastAttr is one attribute of a fastSchema.
type fastAttr struct {
	typ      string // elimity's type name: string, boolean, complex, ...
	multi    bool
	required bool
	readOnly bool
	subs     *fastSchema // complex attributes only
}

func newFastSchema(attrs schema.Attributes) *fastSchema {
	fs := &fastSchema{byName: map[string]*fastAttr{}, folded: map[string]bool{}}
	for _, a := range attrs {
		fa := &fastAttr{
			typ:      a.AttributeType(),
			multi:    a.MultiValued(),
			required: a.Required(),
			readOnly: a.Mutability() == "readOnly",
		}
		if a.HasSubAttributes() {
			fa.subs = newFastSchema(a.SubAttributes())
		}
		fs.byName[a.Name()] = fa
		fs.folded[strings.ToLower(a.Name())] = true
		if fa.required {
			fs.required = append(fs.required, a.Name())
		}
	}
	return fs
}

// addNames adds the names of fs's attributes and sub-attributes to
// names, each mapped to itself.
func (fs *fastSchema) addNames(names map[string]string) {
	for name, a := range fs.byName {
		names[name] = name
		if a.subs != nil {
			a.subs.addNames(names)
		}
	}
}

// isASCII reports whether s is all ASCII: such a key matches a schema
// name, itself ASCII, under strings.EqualFold exactly when their
// lower-cased forms (strings.ToLower) are equal.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// validate gives what elimity's Schema.Validate gives for doc, a decoded
// body, or reports false if it cannot be sure, having changed nothing.
// The result is a new map whose values are doc's, unchanged: elimity
// would copy them to equal ones.
func (fs *fastSchema) validate(doc map[string]any) (map[string]any, bool) {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		a := fs.byName[k]
		if a == nil {
			if !isASCII(k) || fs.folded[strings.ToLower(k)] {
				return nil, false // another case of a name: elimity decides
			}
			continue // elimity ignores keys that name no attribute
		}
		if v == nil || a.readOnly {
			continue // both dropped by elimity (a missing required one below)
		}
		val, ok := a.check(v)
		if !ok {
			return nil, false
		}
		out[k] = val
	}
	for _, name := range fs.required {
		if doc[name] == nil {
			return nil, false // elimity refuses it
		}
	}
	return out, true
}

// check validates a non-null value of a writable attribute: v itself
// when elimity's result would equal it.
func (a *fastAttr) check(v any) (any, bool) {
	if !a.multi {
		return v, a.checkSingular(v)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false // a lone object or a wrong type: elimity decides
	}
	if len(list) == 0 {
		// elimity gives a nil list, and refuses it if required.
		return []any(nil), !a.required
	}
	for _, e := range list {
		if !a.checkSingular(e) {
			return nil, false
		}
	}
	return list, true
}

// checkSingular reports whether elimity's ValidateSingular accepts v and
// gives a value equal to v.
func (a *fastAttr) checkSingular(v any) bool {
	switch a.typ {
	case "string", "reference":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "complex":
		m, ok := v.(map[string]any)
		if !ok || a.subs == nil {
			return false
		}
		// Equal to elimity's copy only if every key is a writable
		// sub-attribute, by its canonical name, with a non-null value.
		for k, sv := range m {
			sub := a.subs.byName[k]
			if sub == nil || sv == nil || sub.readOnly || sub.multi || sub.typ == "complex" || !sub.checkSingular(sv) {
				return false
			}
		}
		for _, name := range a.subs.required {
			if m[name] == nil {
				return false
			}
		}
		return true
	}
	return false // binary, dateTime, decimal, integer: elimity decides
}
