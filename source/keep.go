package source

// AttrNames is a set of attribute names matched ignoring case
// (strings.EqualFold, see FoldName): its keys are the names folded. It
// is not changed after NewAttrNames, so it is safe for concurrent use;
// AttrFilter is the faster one for a single reader.
type AttrNames map[string]bool

// NewAttrNames returns the set of the names in names.
func NewAttrNames(names []string) AttrNames {
	s := make(AttrNames, len(names))
	for _, n := range names {
		s[FoldName(n)] = true
	}
	return s
}

// Has reports whether the set holds name, ignoring case.
func (s AttrNames) Has(name string) bool { return s[FoldName(name)] }

// AttrFilter is the set of attributes a selecting read keeps
// (AttributeSelector.ReadAttributes): those whose names equal one of the
// names asked for, ignoring case (strings.EqualFold, see FoldName), as
// the mapping's lookups match them. A kept attribute keeps its own
// spelling. It remembers each spelling it has folded, so one filter is
// not for concurrent use.
type AttrFilter struct{ keep map[string]bool }

// NewAttrFilter returns the filter that keeps the attributes named in
// names; none when names is empty.
func NewAttrFilter(names []string) *AttrFilter {
	return &AttrFilter{keep: NewAttrNames(names)}
}

// Keeps reports whether the filter keeps the attribute called name.
func (f *AttrFilter) Keeps(name string) bool {
	if k, ok := f.keep[name]; ok {
		return k
	}
	k := f.keep[FoldName(name)]
	f.keep[name] = k
	return k
}

// Filter returns the attributes of a the filter keeps: a itself when it
// keeps them all.
func (f *AttrFilter) Filter(a Attrs) Attrs {
	names, vals := a.parts()
	n := 0
	for _, k := range names {
		if f.Keeps(k) {
			n++
		}
	}
	if n == len(names) {
		return a
	}
	keptNames, keptVals := make([]string, 0, n), make([]any, 0, n)
	for i, k := range names {
		if f.Keeps(k) {
			keptNames, keptVals = append(keptNames, k), append(keptVals, vals[i])
		}
	}
	return makeAttrs(keptNames, keptVals)
}

// Select leaves in the Attributes of d's users and groups only those the
// filter keeps, as a selecting read of d would return them.
func (f *AttrFilter) Select(d *Directory) {
	for i := range d.Users {
		d.Users[i].Attributes = f.Filter(d.Users[i].Attributes)
	}
	for i := range d.Groups {
		d.Groups[i].Attributes = f.Filter(d.Groups[i].Attributes)
	}
}

// UserAttrsValid reports whether Validate finds nothing wrong with a as a
// user's Attributes: names not empty, not a built-in field's and not
// equal ignoring case, values of an attribute type within the limits. A
// source that drops attributes while it reads them checks the dropped
// ones with it, so that a selecting read refuses what a whole one does.
func UserAttrsValid(a Attrs) bool { return attrsValid(a, userBuiltins[:]) }

// GroupAttrsValid is UserAttrsValid for a group's Attributes.
func GroupAttrsValid(a Attrs) bool { return attrsValid(a, groupBuiltins[:]) }
