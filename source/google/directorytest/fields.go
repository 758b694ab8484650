package directorytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// mask is a parsed fields parameter (Google's partial response syntax):
// each key a field kept, with the mask of its sub-fields; a nil mask
// keeps a field whole.
type mask map[string]mask

// parseMask parses a fields parameter such as
// "nextPageToken,users(id,name/givenName,emails)": fields separated by
// commas, a/b selecting sub-field b of a, a(b,c) sub-fields b and c of a,
// and * every field at its level.
func parseMask(s string) (mask, error) {
	p := maskParser{s: s}
	m, err := p.list()
	if err == nil && p.i < len(p.s) {
		err = fmt.Errorf("unexpected %q at %d", p.s[p.i], p.i)
	}
	if err != nil {
		return nil, fmt.Errorf("fields %q: %w", s, err)
	}
	return m, nil
}

type maskParser struct {
	s string
	i int
}

// list parses items separated by commas up to the end or a ')'.
func (p *maskParser) list() (mask, error) {
	m := mask{}
	for {
		if err := p.item(m); err != nil {
			return nil, err
		}
		if p.i >= len(p.s) || p.s[p.i] != ',' {
			return m, nil
		}
		p.i++
	}
}

// item parses one path, a/b/c, with an optional (sub-list), into m.
func (p *maskParser) item(m mask) error {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(",()", rune(p.s[p.i])) {
		p.i++
	}
	path := strings.Split(strings.TrimSpace(p.s[start:p.i]), "/")
	var sub mask
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		var err error
		if sub, err = p.list(); err != nil {
			return err
		}
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return fmt.Errorf("unclosed ( at %d", start)
		}
		p.i++
	}
	for i := len(path) - 1; i >= 0; i-- {
		name := strings.TrimSpace(path[i])
		if name == "" {
			return fmt.Errorf("empty field name at %d", start)
		}
		if i == 0 {
			m.merge(name, sub)
		} else {
			sub = mask{name: sub}
		}
	}
	return nil
}

// merge adds field name with sub-mask sub to m; a field named twice keeps
// what either names (a whole field wins).
func (m mask) merge(name string, sub mask) {
	old, ok := m[name]
	switch {
	case !ok:
		m[name] = sub
	case old == nil || sub == nil:
		m[name] = nil
	default:
		for k, v := range sub {
			old.merge(k, v)
		}
	}
}

// check reports the first field m names that t (a response type) lacks,
// as Google answers 400 "Invalid field selection". Below an untyped
// field (the client's interface{} and raw maps) anything goes.
func (m mask) check(t reflect.Type) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for name, sub := range m {
		if name == "*" {
			continue
		}
		f, ok := jsonField(t, name)
		if !ok {
			return fmt.Errorf("invalid field selection %s", name)
		}
		if sub != nil {
			if err := sub.check(f.Type); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonField finds the field of struct t whose JSON name is name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// apply keeps of v, a decoded JSON value, what m names: in an object its
// fields m names (all with *), in a list the same of each element.
func (m mask) apply(v any) any {
	if m == nil {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(m))
		for k, val := range x {
			sub, ok := m[k]
			if star, all := m["*"]; all && !ok {
				sub, ok = star, true
			}
			if ok {
				out[k] = sub.apply(val)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.apply(e)
		}
		return out
	}
	return v
}

// partial returns body reduced to the fields mask, through its JSON form.
func partial(body any, m mask) (any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return m.apply(v), nil
}
