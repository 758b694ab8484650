package netskopetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	escim "github.com/elimity-com/scim"
	efilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
	fp "github.com/scim2/filter-parser/v2"
)

// target is the place a PATCH operation's path points at.
type target struct {
	def    schema.CoreAttribute
	ext    string        // extension URN holding the attribute, "" for core
	sub    string        // canonical sub-attribute name, "" for none
	filter fp.Expression // value filter of a multi-valued attribute, or nil
}

func (t target) name() string { return t.def.Name() }

// resolve maps a path validated by elimity onto the schema, with canonical
// attribute names (paths are case-insensitive: "externalid",
// "displayname", "Members" are accepted).
func (t *table) resolve(p *fp.Path) (target, error) {
	def, ext, ok := t.attribute(p.AttributePath)
	if !ok {
		return target{}, invalidPath(fmt.Sprintf("no attribute %q", p.AttributePath.String()))
	}
	if def.Mutability() == "readOnly" {
		return target{}, mutability(fmt.Sprintf("attribute %s is read-only", def.Name()))
	}
	tg := target{def: def, ext: ext}
	sub := p.AttributePath.SubAttributeName()
	if s := p.SubAttributeName(); s != "" {
		if sub != "" {
			return target{}, invalidPath("a path may name one sub-attribute")
		}
		sub = s
	}
	if sub != "" {
		sd, ok := def.SubAttributes().ContainsAttribute(sub)
		if !ok {
			return target{}, invalidPath(fmt.Sprintf("attribute %s has no sub-attribute %q", def.Name(), sub))
		}
		tg.sub = sd.Name()
	}
	if p.ValueExpression != nil {
		if !def.MultiValued() {
			return target{}, invalidPath(fmt.Sprintf("attribute %s is not multi-valued", def.Name()))
		}
		tg.filter = unescapeAll(p.ValueExpression)
	}
	return tg, nil
}

// patch applies ops to rec, all or nothing. The caller holds the write
// lock.
func (st *store) patch(k kind, rec *record, ops []escim.PatchOperation) error {
	t := st.table(k)
	// w is nil for a PATCH of a group's members alone (what a sync sends
	// by the hundred), which leaves the attributes as they are.
	var w map[string]any
	if !t.membersOnly(ops) {
		w = rec.attrCopy()
	}
	var journal []memberChange
	err := func() error {
		for _, op := range ops {
			if op.Path != nil {
				tg, err := t.resolve(op.Path)
				if err != nil {
					return err
				}
				if err := st.apply(k, rec, w, op.Op, tg, op.Value, &journal); err != nil {
					return err
				}
				continue
			}
			// No path: the value is an object of attribute paths and values.
			values, ok := op.Value.(map[string]any)
			if !ok {
				return invalidValue("an operation without a path needs an object value")
			}
			keys := make([]string, 0, len(values))
			for key := range values {
				keys = append(keys, key)
			}
			slices.Sort(keys)
			for _, key := range keys {
				p, err := fp.ParsePath([]byte(key))
				if err != nil {
					return invalidPath(fmt.Sprintf("bad attribute path %q", key))
				}
				tg, err := t.resolve(&p)
				if err != nil {
					return err
				}
				if err := st.apply(k, rec, w, op.Op, tg, values[key], &journal); err != nil {
					return err
				}
			}
		}
		if w == nil {
			return nil
		}
		for _, n := range t.neverReturned {
			delete(w, n)
		}
		tidy(w)
		key := strAttr(w, t.keyAttr)
		if key == "" {
			return mutability(t.keyAttr + " cannot be removed")
		}
		if t.conflict(key, rec) {
			return uniqueness(fmt.Sprintf("another %s has this %s", strings.ToLower(k.String()), t.keyAttr))
		}
		return nil
	}()
	if err != nil {
		st.undo(rec, journal)
		return err
	}
	if w != nil {
		t.setAttrs(rec, attrSetOf(k, t.keyAttr, w))
	}
	return nil
}

// membersOnly reports whether every operation of ops has a path, and
// that path is a group's members: apply then leaves the attributes as
// they are.
func (t *table) membersOnly(ops []escim.PatchOperation) bool {
	if t.kind != kindGroup {
		return false
	}
	for _, op := range ops {
		if op.Path == nil {
			return false
		}
		tg, err := t.resolve(op.Path)
		if err != nil || tg.ext != "" || tg.name() != keyMembers {
			return false
		}
	}
	return true
}

// apply applies one operation to the working copy w of rec's attributes,
// or, for group members, to rec's member set (journaled).
func (st *store) apply(k kind, rec *record, w map[string]any, op string, tg target, value any, j *[]memberChange) error {
	if k == kindGroup && tg.ext == "" && tg.name() == "members" {
		return st.applyMembers(rec, op, tg, value, j)
	}
	if op != "add" && op != "replace" && op != "remove" {
		return invalidValue(fmt.Sprintf("unknown op %q", op))
	}
	name := tg.name()
	c := container(w, tg.ext, op != "remove")
	if c == nil {
		return nil // removing from an extension that has no values
	}
	switch {
	case tg.filter != nil:
		return applyFiltered(c, op, tg, value)
	case tg.sub != "" && tg.def.MultiValued():
		// emails.value: the sub-attribute of every value.
		list, _ := c[name].([]any)
		for i, e := range list {
			m, _ := e.(map[string]any)
			if m == nil {
				continue
			}
			if op == "remove" {
				delete(m, tg.sub)
			} else {
				m[tg.sub] = value
			}
			list[i] = m
		}
	case tg.sub != "":
		// name.givenName: a sub-attribute of a complex attribute.
		m, _ := c[name].(map[string]any)
		if op == "remove" {
			if m != nil {
				delete(m, tg.sub)
			}
			return nil
		}
		if m == nil {
			m = map[string]any{}
			c[name] = m
		}
		m[tg.sub] = value
	case op == "remove":
		if value != nil && tg.def.MultiValued() {
			c[name] = removeValues(c[name], value)
		} else {
			delete(c, name)
		}
	case isComplexSingle(tg.def):
		// RFC 7644 §3.5.2.1 and §3.5.2.3: the sub-attributes given replace
		// or add; the others are left as they are.
		m, _ := c[name].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		v, ok := value.(map[string]any)
		if !ok {
			return invalidValue(fmt.Sprintf("attribute %s takes an object", name))
		}
		for sk, sv := range v {
			m[sk] = sv
		}
		c[name] = m
	case op == "add" && tg.def.MultiValued():
		list, _ := c[name].([]any)
		for _, v := range asList(value) {
			if !slices.ContainsFunc(list, func(e any) bool { return reflect.DeepEqual(e, v) }) {
				list = append(list, v)
			}
		}
		c[name] = list
	default:
		c[name] = value
	}
	return nil
}

// applyFiltered applies an operation whose path has a value filter, such
// as emails[type eq "work"].value or emails[type eq "work"].
func applyFiltered(c map[string]any, op string, tg target, value any) error {
	name := tg.name()
	list, _ := c[name].([]any)
	matched, err := matching(list, tg)
	if err != nil {
		return err
	}
	if op == "remove" {
		kept := list[:0:0]
		for i, e := range list {
			switch {
			case !matched[i]:
				kept = append(kept, e)
			case tg.sub != "":
				delete(e.(map[string]any), tg.sub)
				kept = append(kept, e)
			}
		}
		c[name] = kept
		return nil
	}
	if len(matched) == 0 {
		// Nothing matches: add a value that does, when the filter says how
		// (an "eq" on a sub-attribute), as Entra expects of
		// emails[type eq "work"].value on a user without a work email.
		el, ok := elementFor(tg)
		if !ok {
			return noTarget(fmt.Sprintf("no value of %s matches the filter", name))
		}
		list = append(list, el)
		matched[len(list)-1] = true
	}
	for i := range list {
		if !matched[i] {
			continue
		}
		m := list[i].(map[string]any)
		if tg.sub != "" {
			m[tg.sub] = value
			continue
		}
		for _, v := range asList(value) {
			if vm, ok := v.(map[string]any); ok {
				for sk, sv := range vm {
					m[sk] = sv
				}
			}
		}
	}
	c[name] = list
	return nil
}

// matching returns the indexes of the values of list that pass tg's filter.
func matching(list []any, tg target) (matched map[int]bool, err error) {
	val := efilter.NewFilterValidator(tg.filter, schema.Schema{Attributes: efilter.MultiValuedFilterAttributes(tg.def)})
	defer func() {
		if recover() != nil {
			matched, err = nil, invalidPath("the path filter cannot be applied to this attribute")
		}
	}()
	matched = map[int]bool{}
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && val.PassesFilter(m) == nil {
			matched[i] = true
		}
	}
	return matched, nil
}

// elementFor builds the value a filter of the form "sub eq value" selects.
func elementFor(tg target) (map[string]any, bool) {
	x, ok := tg.filter.(*fp.AttributeExpression)
	if !ok || x.Operator != fp.EQ || x.AttributePath.SubAttribute != nil || x.AttributePath.URIPrefix != nil {
		return nil, false
	}
	sd, ok := tg.def.SubAttributes().ContainsAttribute(x.AttributePath.AttributeName)
	if !ok {
		return nil, false
	}
	return map[string]any{sd.Name(): x.CompareValue}, true
}

// applyMembers applies an operation on a group's members: add or replace
// with [{"value": id}, ...] (every id must be a user), remove with such a
// list, with a filter such as members[value eq "id"], or with neither
// (all members).
func (st *store) applyMembers(g *record, op string, tg target, value any, j *[]memberChange) error {
	if tg.sub != "" {
		return invalidPath("members can only be added, replaced or removed whole")
	}
	switch op {
	case "add", "replace":
		if tg.filter != nil {
			return invalidPath("members cannot be " + op + "d through a filter")
		}
		ids, err := memberIDs(value)
		if err != nil {
			return err
		}
		us, err := st.checkMembers(ids)
		if err != nil {
			return err
		}
		if op == "replace" {
			st.setMembers(g, us, j)
			return nil
		}
		for _, u := range us {
			st.addMember(g, u, j)
		}
		return nil
	case "remove":
		switch {
		case tg.filter != nil:
			if x, ok := tg.filter.(*fp.AttributeExpression); ok && x.Operator == fp.EQ &&
				strings.EqualFold(x.AttributePath.AttributeName, "value") && x.AttributePath.SubAttribute == nil {
				if id, ok := x.CompareValue.(string); ok {
					st.removeMember(g, id, j)
					return nil
				}
			}
			members := st.memberValues(g)
			matched, err := matching(members, tg)
			if err != nil {
				return err
			}
			for i := range matched {
				st.removeMember(g, members[i].(map[string]any)["value"].(string), j)
			}
		case value != nil:
			ids, err := memberIDs(value)
			if err != nil {
				return err
			}
			for _, id := range ids {
				st.removeMember(g, id, j)
			}
		default:
			for num := range g.members {
				st.removeMemberNum(g, num, j)
			}
		}
		return nil
	}
	return invalidValue(fmt.Sprintf("unknown op %q", op))
}

// container returns the map holding an attribute: w itself, or the
// extension's object in w (created when create is true, else nil when
// absent).
func container(w map[string]any, ext string, create bool) map[string]any {
	if ext == "" {
		return w
	}
	m, _ := w[ext].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		w[ext] = m
	}
	return m
}

func isComplexSingle(def schema.CoreAttribute) bool {
	return def.HasSubAttributes() && !def.MultiValued()
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// removeValues removes from a multi-valued attribute the values equal to
// those given; complex values are compared by their "value" sub-attribute
// when they have one.
func removeValues(cur any, remove any) []any {
	list, _ := cur.([]any)
	rm := asList(remove)
	return slices.DeleteFunc(list, func(e any) bool {
		for _, r := range rm {
			em, _ := e.(map[string]any)
			rmm, _ := r.(map[string]any)
			if em != nil && rmm != nil && rmm["value"] != nil {
				if reflect.DeepEqual(em["value"], rmm["value"]) {
					return true
				}
				continue
			}
			if reflect.DeepEqual(e, r) {
				return true
			}
		}
		return false
	})
}

// deepCopy copies the maps and slices of a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// tidy drops nil values, empty lists and empty objects (an emptied
// extension or name), as RFC 7643 §2.5 treats them as unassigned.
func tidy(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case []any:
			if len(x) == 0 {
				delete(m, k)
			}
		case map[string]any:
			tidy(x)
			if len(x) == 0 {
				delete(m, k)
			}
		}
	}
}
