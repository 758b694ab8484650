package netskopetest

import (
	"encoding/json"
	"strings"

	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"
)

// unescape decodes the JSON escapes the filter parser leaves in string
// values (it only strips the quotes), so that a value is compared exactly
// as the client meant it: "a\" or b" is the seven characters a" or b.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out string
	if json.Unmarshal([]byte(`"`+s+`"`), &out) != nil {
		return s
	}
	return out
}

// normalizeFilter prepares a parsed filter for evaluation: string values
// are unescaped (unless raw, FilterQuirks.RawEscapes), and "attr.sub op value" on a multi-valued attribute (such
// as emails.value eq "x") becomes attr[sub op value], which elimity's
// evaluator understands.
func (t *table) normalizeFilter(e fp.Expression, raw bool) fp.Expression {
	switch x := e.(type) {
	case *fp.AttributeExpression:
		if s, ok := x.CompareValue.(string); ok && !raw {
			x.CompareValue = unescape(s)
		}
		sub := x.AttributePath.SubAttributeName()
		if sub == "" {
			return x
		}
		if def, _, ok := t.attribute(x.AttributePath); ok && def.MultiValued() {
			return &fp.ValuePath{
				AttributePath: fp.AttributePath{URIPrefix: x.AttributePath.URIPrefix, AttributeName: x.AttributePath.AttributeName},
				ValueFilter: &fp.AttributeExpression{
					AttributePath: fp.AttributePath{AttributeName: sub},
					Operator:      x.Operator,
					CompareValue:  x.CompareValue,
				},
			}
		}
		return x
	case *fp.ValuePath:
		if !raw {
			x.ValueFilter = unescapeAll(x.ValueFilter)
		}
		return x
	case *fp.LogicalExpression:
		x.Left, x.Right = t.normalizeFilter(x.Left, raw), t.normalizeFilter(x.Right, raw)
		return x
	case *fp.NotExpression:
		x.Expression = t.normalizeFilter(x.Expression, raw)
		return x
	}
	return e
}

// unescapeAll unescapes every string value in e.
func unescapeAll(e fp.Expression) fp.Expression {
	switch x := e.(type) {
	case *fp.AttributeExpression:
		if s, ok := x.CompareValue.(string); ok {
			x.CompareValue = unescape(s)
		}
	case *fp.ValuePath:
		x.ValueFilter = unescapeAll(x.ValueFilter)
	case *fp.LogicalExpression:
		x.Left, x.Right = unescapeAll(x.Left), unescapeAll(x.Right)
	case *fp.NotExpression:
		x.Expression = unescapeAll(x.Expression)
	}
	return e
}

// indexedEq recognises "attr eq value" on an attribute with an index: id,
// externalId, or the table's key attribute (userName, displayName). attr
// is returned in its canonical spelling.
func (t *table) indexedEq(e fp.Expression) (attr, value string, ok bool) {
	x, isAttr := e.(*fp.AttributeExpression)
	if !isAttr || x.Operator != fp.EQ || x.AttributePath.SubAttribute != nil {
		return "", "", false
	}
	if uri := x.AttributePath.URI(); uri != "" && !strings.EqualFold(uri, t.schema.ID) {
		return "", "", false
	}
	value, ok = x.CompareValue.(string)
	if !ok {
		return "", "", false
	}
	for _, name := range []string{"id", "externalId", t.keyAttr} {
		if strings.EqualFold(x.AttributePath.AttributeName, name) {
			return name, value, true
		}
	}
	return "", "", false
}

// mentions reports whether the filter refers to the attribute name.
func mentions(e fp.Expression, name string) bool {
	switch x := e.(type) {
	case *fp.AttributeExpression:
		return strings.EqualFold(x.AttributePath.AttributeName, name)
	case *fp.ValuePath:
		return strings.EqualFold(x.AttributePath.AttributeName, name)
	case *fp.LogicalExpression:
		return mentions(x.Left, name) || mentions(x.Right, name)
	case *fp.NotExpression:
		return mentions(x.Expression, name)
	}
	return false
}

// attribute finds the definition of an attribute path's attribute: in the
// core schema (no URI, or the core URI) and else in an extension (its URI,
// or no URI when the core has no such attribute). ext is the extension's
// URN, "" for the core schema.
func (t *table) attribute(p fp.AttributePath) (def schema.CoreAttribute, ext string, ok bool) {
	uri := p.URI()
	if uri == "" || strings.EqualFold(uri, t.schema.ID) {
		if def, ok := t.schema.Attributes.ContainsAttribute(p.AttributeName); ok {
			return def, "", true
		}
		if uri != "" {
			return schema.CoreAttribute{}, "", false
		}
	}
	for _, e := range t.exts {
		if uri != "" && !strings.EqualFold(uri, e.ID) {
			continue
		}
		if def, ok := e.Attributes.ContainsAttribute(p.AttributeName); ok {
			return def, e.ID, true
		}
	}
	return schema.CoreAttribute{}, "", false
}
