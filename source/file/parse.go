package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/provsync/provsync/source"
)

// The file's shape. Field order is the order Write emits. A is the form
// the attributes are decoded to: a map[string]any from JSON (one entry at
// a time) and for Write, a yaml.Node from YAML, converted one entry at a
// time after the document is decoded, so that no map of every object's
// attributes is ever held at once.
type (
	fileDTO[A any] struct {
		Users  []userDTO[A]  `json:"users" yaml:"users"`
		Groups []groupDTO[A] `json:"groups" yaml:"groups"`
	}
	userDTO[A any] struct {
		ID          string     `json:"id" yaml:"id"`
		UserName    string     `json:"userName,omitempty" yaml:"userName,omitempty"`
		Email       string     `json:"email,omitempty" yaml:"email,omitempty"`
		Emails      []emailDTO `json:"emails,omitempty" yaml:"emails,omitempty"`
		GivenName   string     `json:"givenName,omitempty" yaml:"givenName,omitempty"`
		FamilyName  string     `json:"familyName,omitempty" yaml:"familyName,omitempty"`
		DisplayName string     `json:"displayName,omitempty" yaml:"displayName,omitempty"`
		State       string     `json:"state,omitempty" yaml:"state,omitempty"`
		DeletedAt   string     `json:"deletedAt,omitempty" yaml:"deletedAt,omitempty"`
		Attributes  A          `json:"attributes,omitempty" yaml:"attributes,omitempty"`
	}
	emailDTO struct {
		Value   string `json:"value" yaml:"value"`
		Type    string `json:"type,omitempty" yaml:"type,omitempty"`
		Primary bool   `json:"primary,omitempty" yaml:"primary,omitempty"`
	}
	groupDTO[A any] struct {
		ID           string   `json:"id" yaml:"id"`
		DisplayName  string   `json:"displayName,omitempty" yaml:"displayName,omitempty"`
		Email        string   `json:"email,omitempty" yaml:"email,omitempty"`
		Description  string   `json:"description,omitempty" yaml:"description,omitempty"`
		Attributes   A        `json:"attributes,omitempty" yaml:"attributes,omitempty"`
		Members      []string `json:"members,omitempty" yaml:"members,omitempty"`
		MemberGroups []string `json:"memberGroups,omitempty" yaml:"memberGroups,omitempty"`
	}
)

// doc is a file being decoded: the directory converted so far, the
// problems found converting it, and the line of each entry (0 if unknown)
// and, for YAML, each entry's node.
type doc struct {
	dir      source.Directory
	hasUsers bool    // the file has a users list (not null)
	errs     []error // conversion problems
	// keep, when not nil, is the filter of a selecting read: the
	// attributes it does not keep are checked and dropped as each entry
	// is converted. dropBad records that a dropped one fails Validate's
	// checks, which the directory's Validate no longer sees.
	keep    *source.AttrFilter
	dropBad bool
	at      func(int) string

	userLines, groupLines []int
	userNodes, groupNodes []*yaml.Node
	json                  bool
	// data is the text, parsed again for line numbers only when a problem
	// needs one, so that files without problems are parsed once.
	data    []byte
	indexed bool
}

// index finds the line (and for YAML the node) of every entry.
func (d *doc) index() {
	if d.indexed {
		return
	}
	d.indexed = true
	if d.json {
		d.userLines, d.groupLines, _ = decodeJSONDetailed(d.data, func(int) string { return "" })
		return
	}
	var root yaml.Node
	if err := yaml.Unmarshal(d.data, &root); err != nil {
		return
	}
	d.userLines, d.userNodes = entries(&root, "users")
	d.groupLines, d.groupNodes = entries(&root, "groups")
}

// line returns the line of a field of an object (such as "state",
// "members[2]" or `attributes["dept"]`), as near as the format allows: the
// field's own line in YAML, the object's first line in JSON.
func (d *doc) line(kind string, index int, field string) int {
	d.index()
	lines, nodes := d.userLines, d.userNodes
	if kind == "group" {
		lines, nodes = d.groupLines, d.groupNodes
	}
	if index < 0 || index >= len(lines) {
		return 0
	}
	if index < len(nodes) && nodes[index] != nil && field != "" {
		if l := fieldLine(nodes[index], field); l > 0 {
			return l
		}
	}
	return lines[index]
}

// fieldLine finds the line of field in an entry's mapping node.
func fieldLine(entry *yaml.Node, field string) int {
	key, rest := field, ""
	if i := strings.IndexAny(field, ".["); i >= 0 {
		key, rest = field[:i], field[i:]
	}
	k, v := mapEntry(entry, key)
	if k == nil {
		return 0
	}
	switch {
	case strings.HasPrefix(rest, `["`) && v.Kind == yaml.MappingNode:
		// attributes["a.b"]: the key a.b, else the nested key a.
		name, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]"))
		if err == nil {
			if nk, _ := mapEntry(v, name); nk != nil {
				return nk.Line
			}
			first, _, _ := strings.Cut(name, ".")
			if nk, _ := mapEntry(v, first); nk != nil {
				return nk.Line
			}
		}
	case strings.HasPrefix(rest, "[") && v.Kind == yaml.SequenceNode:
		end := strings.IndexByte(rest, ']')
		if i, err := strconv.Atoi(rest[1:max(end, 1)]); err == nil && i >= 0 && i < len(v.Content) {
			return v.Content[i].Line
		}
	}
	return k.Line
}

// mapEntry returns the key and value nodes of key in a mapping node.
func mapEntry(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// parse decodes and validates data. where names the file in errors. keep,
// when not nil, selects the attributes kept (see parseSelected).
func parse(ctx context.Context, data []byte, format Format, where string, keep *source.AttrFilter) (*source.Directory, error) {
	at := func(line int) string {
		switch {
		case where == "" && line == 0:
			return "file"
		case where == "":
			return "line " + strconv.Itoa(line)
		case line == 0:
			return where
		}
		return where + ":" + strconv.Itoa(line)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, classify(fmt.Errorf("%s: the file is empty; write `users: []` for an empty directory", at(0)), source.ErrInvalid)
	}
	if errs := checkUTF8(data, at); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if format == FormatAuto {
		format = FormatYAML
		if trimmed[0] == '{' {
			format = FormatJSON
		}
	}
	d := &doc{data: data, at: at, keep: keep, json: format == FormatJSON}
	var errs []error
	switch format {
	case FormatJSON:
		errs = d.decodeJSON()
	case FormatYAML:
		errs = d.decodeYAML()
	default:
		return nil, classify(fmt.Errorf("%s: unknown format %s", at(0), format), source.ErrInvalid)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", at(0), err)
	}
	if format == FormatJSON {
		errs = jsonStrict(data, d, at)
	}
	if !d.hasUsers {
		// `---`, `{}`, `groups: []`, `users:` or `{"users": null}`: as
		// likely a truncated or mistaken file as an empty directory.
		errs = append(errs, classify(fmt.Errorf("%s: the file has no users list; write `users: []` for an empty directory", at(0)), source.ErrInvalid))
	}
	// Conversion problems leave the field at its zero value, so checking
	// the directory as well reports the file's other problems too.
	errs = append(errs, d.errs...)
	dir := &d.dir
	if dir.Users == nil {
		dir.Users = []source.User{}
	}
	if dir.Groups == nil {
		dir.Groups = []source.Group{}
	}
	if err := dir.Validate(); err != nil {
		errs = append(errs, locate(err, func(oe *source.ObjectError) string {
			if oe == nil {
				return at(0)
			}
			return at(d.line(oe.Kind, oe.Index, oe.Field))
		}))
	}
	if d.dropBad {
		errs = append(errs, classify(fmt.Errorf("%s: an attribute left out of the read is not valid", at(0)), source.ErrInvalid))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return dir, nil
}

// parseSelected is parse keeping of the users' and groups' attributes
// only those keep keeps, dropping the others as each entry is converted.
// It refuses what parse refuses, with parse's own error: a file with a
// problem is parsed again whole to report it.
func parseSelected(ctx context.Context, data []byte, format Format, where string, keep *source.AttrFilter) (*source.Directory, error) {
	dir, err := parse(ctx, data, format, where, keep)
	if err == nil {
		return dir, nil
	}
	if _, whole := parse(ctx, data, format, where, nil); whole != nil {
		return nil, whole
	}
	return nil, err
}

// problem returns an *source.ObjectError located at a line.
func problem(where string, kind, id string, index int, field string, err error) error {
	return &located{where: where, err: &source.ObjectError{Kind: kind, ID: id, Index: index, Field: field, Err: err}}
}

// addUser converts a decoded user, with its attributes decoded to a map,
// reporting every problem.
func addUser[A any](d *doc, in *userDTO[A], attrs map[string]any) {
	i := len(d.dir.Users)
	bad := func(field string, err error) {
		d.errs = append(d.errs, problem(d.at(d.line("user", i, field)), "user", in.ID, i, field, err))
	}
	u := source.User{
		ID: in.ID, UserName: in.UserName, GivenName: in.GivenName,
		FamilyName: in.FamilyName, DisplayName: in.DisplayName,
	}
	switch {
	case in.Email != "" && len(in.Emails) > 0:
		bad("email", errors.New("set email or emails, not both"))
	case in.Email != "":
		u.Emails = []source.Email{{Value: in.Email, Type: "work", Primary: true}}
	case len(in.Emails) > 0:
		u.Emails = make([]source.Email, len(in.Emails))
		for k, e := range in.Emails {
			u.Emails[k] = source.Email(e)
		}
	}
	if in.State != "" {
		st, err := source.ParseState(in.State)
		if err != nil {
			bad("state", fmt.Errorf("unknown state %q (want active, suspended or deleted)", in.State))
		}
		u.State = st
	}
	if in.DeletedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, in.DeletedAt)
		if err != nil {
			bad("deletedAt", fmt.Errorf("%q is not an RFC 3339 time such as 2025-05-20T10:00:00Z", in.DeletedAt))
		}
		u.DeletedAt = t
	}
	u.Attributes = d.kept(d.attributes(attrs, bad), source.UserAttrsValid)
	d.dir.Users = append(d.dir.Users, u)
}

// addGroup converts a decoded group, with its attributes decoded to a
// map, reporting every problem.
func addGroup[A any](d *doc, in *groupDTO[A], attrs map[string]any) {
	i := len(d.dir.Groups)
	bad := func(field string, err error) {
		d.errs = append(d.errs, problem(d.at(d.line("group", i, field)), "group", in.ID, i, field, err))
	}
	d.dir.Groups = append(d.dir.Groups, source.Group{
		ID: in.ID, DisplayName: in.DisplayName, Email: in.Email, Description: in.Description,
		Attributes: d.kept(d.attributes(attrs, bad), source.GroupAttrsValid), Members: in.Members, MemberGroups: in.MemberGroups,
	})
}

// kept returns the attributes of attrs a selecting read keeps (all of
// them when d.keep is nil), noting whether those it drops pass valid,
// Validate's checks of an object's attributes.
func (d *doc) kept(attrs map[string]any, valid func(source.Attrs) bool) source.Attrs {
	a := source.NewAttrs(attrs)
	if d.keep == nil {
		return a
	}
	if !valid(a) {
		d.dropBad = true
	}
	return d.keep.Filter(a)
}

// attributes converts decoded attribute values to source attribute types,
// flattening nested maps into dotted names.
func (d *doc) attributes(in map[string]any, bad func(field string, err error)) map[string]any {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]any, len(in))
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := prefix + k
			field := fmt.Sprintf("attributes[%q]", name)
			v := m[k]
			if sub, ok := v.(map[string]any); ok {
				walk(name+".", sub)
				continue
			}
			if v == nil {
				continue
			}
			if _, dup := out[name]; dup {
				bad(field, errors.New("set twice (once nested, once dotted)"))
				continue
			}
			nv, err := d.value(v)
			if err != nil {
				bad(field, err)
				continue
			}
			out[name] = nv
		}
	}
	walk("", in)
	if len(out) == 0 {
		return nil
	}
	return out
}

// value converts one decoded attribute value.
func (d *doc) value(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s is out of range", x)
		}
		return f, nil
	case string:
		if d.json && looksLikeTime(x) {
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t, nil
			}
		}
		return x, nil
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			es, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("item %d is %s; lists hold strings only", i, describe(e))
			}
			s[i] = es
		}
		return s, nil
	}
	nv, err := source.NormalizeValue(v)
	if err != nil {
		return nil, fmt.Errorf("%s is not an attribute value (string, bool, number, list of strings, time)", describe(v))
	}
	return nv, nil
}

// looksLikeTime is a cheap test for RFC 3339 with a time of day.
func looksLikeTime(s string) bool {
	return len(s) >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't')
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, float64, json.Number:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// ---- JSON ----

// decodeJSON decodes and converts d.data in one pass; if that fails, a
// slower pass finds every problem and its line.
func (d *doc) decodeJSON() []error {
	dec := json.NewDecoder(bytes.NewReader(d.data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := d.streamJSON(dec)
	if err == nil {
		if _, eof := dec.Token(); eof == io.EOF {
			return nil
		}
	}
	if _, _, errs := decodeJSONDetailed(d.data, d.at); len(errs) > 0 {
		return errs
	}
	if err == nil {
		err = errors.New("data after the JSON object")
	}
	return []error{classify(fmt.Errorf("%s: %w", d.at(0), err), source.ErrInvalid)}
}

// streamJSON decodes the top-level object as encoding/json decodes it into
// a fileDTO (keys matched ignoring case, a list given twice replacing the
// first, which jsonStrict reports), converting each user and group as it
// is decoded, so that only one entry's attributes are held as a map.
func (d *doc) streamJSON(dec *json.Decoder) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.Join(err, errors.New("want an object"))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "users"):
			d.dir.Users = nil
			d.hasUsers, err = jsonItems(dec, func() error {
				var u userDTO[map[string]any]
				if err := dec.Decode(&u); err != nil {
					return err
				}
				addUser(d, &u, u.Attributes)
				return nil
			})
		case strings.EqualFold(key, "groups"):
			d.dir.Groups = nil
			_, err = jsonItems(dec, func() error {
				var g groupDTO[map[string]any]
				if err := dec.Decode(&g); err != nil {
					return err
				}
				addGroup(d, &g, g.Attributes)
				return nil
			})
		default:
			err = fmt.Errorf("unknown field %q", key)
		}
		if err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

// jsonItems calls each for every item of a JSON array, and reports
// whether there was one (false for null).
func jsonItems(dec *json.Decoder, each func() error) (bool, error) {
	tok, err := dec.Token()
	switch {
	case err != nil:
		return false, err
	case tok == nil:
		return false, nil
	case tok != json.Delim('['):
		return false, errNotList
	}
	for dec.More() {
		if err := each(); err != nil {
			return false, err
		}
	}
	_, err = dec.Token()
	return true, err
}

// decodeJSONDetailed decodes data entry by entry, noting each entry's
// line, and reports every problem it can.
func decodeJSONDetailed(data []byte, at func(int) string) (userLines, groupLines []int, errs []error) {
	lines := &lineCounter{data: data, line: 1}
	dec := json.NewDecoder(bytes.NewReader(data))
	syntax := func(err error) []error {
		line := 0
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = lineAt(data, int(se.Offset))
		} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			line, err = lineAt(data, len(data)), errors.New("unexpected end of JSON input")
		}
		return []error{classify(fmt.Errorf("%s: %w", at(line), err), source.ErrInvalid)}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, syntax(err)
	}
	if tok != json.Delim('{') {
		return nil, nil, []error{classify(fmt.Errorf("%s: want a JSON object with users and groups", at(lineAt(data, 0))), source.ErrInvalid)}
	}
	var userRaw, groupRaw []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, syntax(err)
		}
		key, _ := tok.(string)
		keyLine := lines.at(int(dec.InputOffset()))
		switch key {
		case "users":
			userRaw, userLines, err = jsonList(dec, lines)
		case "groups":
			groupRaw, groupLines, err = jsonList(dec, lines)
		default:
			errs = append(errs, classify(fmt.Errorf("%s: unknown field %q", at(keyLine), key), source.ErrInvalid))
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			if errors.Is(err, errNotList) {
				errs = append(errs, classify(fmt.Errorf("%s: %s: %w", at(keyLine), key, err), source.ErrInvalid))
				continue
			}
			return nil, nil, syntax(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, []error{classify(fmt.Errorf("%s: data after the JSON object", at(lines.at(int(dec.InputOffset())))), source.ErrInvalid)}
	}
	for i, raw := range userRaw {
		if err := jsonEntry(raw, &userDTO[map[string]any]{}); err != nil {
			errs = append(errs, jsonEntryError(err, raw, "user", i, userLines[i], at))
		}
	}
	for i, raw := range groupRaw {
		if err := jsonEntry(raw, &groupDTO[map[string]any]{}); err != nil {
			errs = append(errs, jsonEntryError(err, raw, "group", i, groupLines[i], at))
		}
	}
	return userLines, groupLines, errs
}

var errNotList = errors.New("want a list")

// jsonList reads a JSON array (or null) of objects as raw messages with
// the line each starts on.
func jsonList(dec *json.Decoder, lines *lineCounter) ([]json.RawMessage, []int, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if tok == nil {
		return nil, nil, nil
	}
	if tok != json.Delim('[') {
		if d, ok := tok.(json.Delim); ok && d == '{' {
			// Skip the object to keep reading the rest of the file.
			depth := 1
			for depth > 0 {
				t, err := dec.Token()
				if err != nil {
					return nil, nil, err
				}
				if d, ok := t.(json.Delim); ok {
					if d == '{' || d == '[' {
						depth++
					} else {
						depth--
					}
				}
			}
		}
		return nil, nil, errNotList
	}
	var raws []json.RawMessage
	var starts []int
	for dec.More() {
		start := skipSeparators(lines.data, int(dec.InputOffset()))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		raws = append(raws, raw)
		starts = append(starts, lines.at(start))
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	return raws, starts, nil
}

func jsonEntry(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return &entryError{err: err, offset: int(dec.InputOffset())}
	}
	return nil
}

type entryError struct {
	err    error
	offset int
}

func (e *entryError) Error() string { return e.err.Error() }

// jsonEntryError turns a decoding error of entry i into a located
// ObjectError.
func jsonEntryError(err error, raw json.RawMessage, kind string, i, line int, at func(int) string) error {
	var idOnly struct {
		ID any `json:"id"`
	}
	_ = json.Unmarshal(raw, &idOnly)
	id, _ := idOnly.ID.(string)
	ee := err.(*entryError)
	field, msg, off := "", ee.err.Error(), ee.offset
	var te *json.UnmarshalTypeError
	switch {
	case strings.HasPrefix(msg, "json: unknown field "):
		field, _ = strconv.Unquote(strings.TrimPrefix(msg, "json: unknown field "))
		msg = "unknown field"
	case errors.As(ee.err, &te):
		field, off = te.Field, int(te.Offset)
		want := te.Type.String()
		if field == "" || strings.HasPrefix(want, "file.") {
			want = "an object"
		}
		msg = fmt.Sprintf("want %s, got a JSON %s", want, te.Value)
	}
	if off > len(raw) {
		off = len(raw)
	}
	return problem(at(line+bytes.Count(raw[:max(off, 0)], []byte("\n"))), kind, id, i, field, errors.New(msg))
}

// skipSeparators returns the offset of the first byte at or after off that
// is neither white space nor a comma.
func skipSeparators(data []byte, off int) int {
	for off < len(data) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
		off++
	}
	return off
}

// lineCounter returns the lines of increasing offsets in linear time.
type lineCounter struct {
	data []byte
	off  int
	line int
}

// at returns the 1-based line of byte offset off; offsets before the
// previous one are counted from the start.
func (c *lineCounter) at(off int) int {
	off = min(max(off, 0), len(c.data))
	if off < c.off {
		c.off, c.line = 0, 1
	}
	c.line += bytes.Count(c.data[c.off:off], []byte("\n"))
	c.off = off
	return c.line
}

// lineAt returns the 1-based line of byte offset off.
func lineAt(data []byte, off int) int {
	off = min(max(off, 0), len(data))
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// ---- YAML ----

// decodeYAML decodes d.data, the attributes as nodes, and then converts
// each entry, decoding its attributes (yaml.v3 builds the whole
// document's nodes first in any case). Type errors, the attributes'
// included, are reported in the order of their lines.
func (d *doc) decodeYAML() []error {
	var f fileDTO[yaml.Node]
	dec := yaml.NewDecoder(bytes.NewReader(d.data))
	dec.KnownFields(true)
	var msgs []string
	if err := dec.Decode(&f); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			if errors.Is(err, io.EOF) {
				err = errors.New("no YAML document")
			}
			return []error{classify(fmt.Errorf("%s: %w", d.at(0), err), source.ErrInvalid)}
		}
		msgs = te.Errors
	}
	var extra []error
	if msgs == nil {
		var next yaml.Node
		if err := dec.Decode(&next); err != io.EOF {
			extra = []error{classify(fmt.Errorf("%s: more than one YAML document", d.at(next.Line)), source.ErrInvalid)}
		}
	}
	d.hasUsers = f.Users != nil
	d.dir.Users, d.dir.Groups = make([]source.User, 0, len(f.Users)), make([]source.Group, 0, len(f.Groups))
	// Once a type error is found, the attributes are only decoded for
	// theirs.
	attrs := func(n *yaml.Node) map[string]any {
		if n.Kind == 0 {
			return nil
		}
		var m map[string]any
		if err := n.Decode(&m); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				te = &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
			}
			msgs = append(msgs, te.Errors...)
		}
		return m
	}
	for i := range f.Users {
		m := attrs(&f.Users[i].Attributes)
		if msgs == nil {
			addUser(d, &f.Users[i], m)
		}
		f.Users[i] = userDTO[yaml.Node]{}
	}
	for i := range f.Groups {
		m := attrs(&f.Groups[i].Attributes)
		if msgs == nil {
			addGroup(d, &f.Groups[i], m)
		}
		f.Groups[i] = groupDTO[yaml.Node]{}
	}
	if msgs == nil {
		return extra
	}
	sort.SliceStable(msgs, func(a, b int) bool { return messageLine(msgs[a]) < messageLine(msgs[b]) })
	var root yaml.Node
	_ = yaml.Unmarshal(d.data, &root) // it parsed once already
	errs := make([]error, 0, len(msgs))
	for _, msg := range msgs {
		errs = append(errs, yamlProblem(&root, msg, d.at))
	}
	return errs
}

// messageLine returns N of one of yaml.v3's "line N: ..." messages, 0 for
// another.
func messageLine(msg string) int {
	num, _, _ := strings.Cut(strings.TrimPrefix(msg, "line "), ":")
	n, _ := strconv.Atoi(num)
	return n
}

// entries returns the line and node of each item of the top-level list
// key.
func entries(root *yaml.Node, key string) ([]int, []*yaml.Node) {
	seq := topLevel(root, key)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, nil
	}
	lines, nodes := make([]int, len(seq.Content)), seq.Content
	for i, item := range nodes {
		lines[i] = item.Line
	}
	return lines, nodes
}

func topLevel(root *yaml.Node, key string) *yaml.Node {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// yamlProblem turns one of yaml.v3's "line N: ..." messages into a
// located error naming the object and field when the line is inside one.
func yamlProblem(root *yaml.Node, msg string, at func(int) string) error {
	rest, ok := strings.CutPrefix(msg, "line ")
	num, detail, ok2 := strings.Cut(rest, ": ")
	line, err := strconv.Atoi(num)
	if !ok || !ok2 || err != nil {
		return classify(fmt.Errorf("%s: %s", at(0), msg), source.ErrInvalid)
	}
	unknown := ""
	if f, ok := strings.CutPrefix(detail, "field "); ok {
		if name, _, ok := strings.Cut(f, " not found in type "); ok {
			unknown, detail = name, "unknown field"
		}
	}
	detail = strings.NewReplacer(typeName[fileDTO[yaml.Node]](), "a mapping with users and groups",
		typeName[[]userDTO[yaml.Node]](), "a list of users", typeName[[]groupDTO[yaml.Node]](), "a list of groups",
		"[]file.emailDTO", "a list of emails", typeName[userDTO[yaml.Node]](), "a user (a mapping)",
		typeName[groupDTO[yaml.Node]](), "a group (a mapping)", "file.emailDTO", "an email (a mapping)",
		"map[string]interface {}", "a mapping").Replace(detail)
	var path []any
	if len(root.Content) > 0 && root.Content[0].Kind == yaml.MappingNode {
		path = pathAt(root, line, unknown)
	}
	if len(path) >= 2 {
		if key, ok := path[0].(string); ok && (key == "users" || key == "groups") {
			if i, ok := path[1].(int); ok {
				kind := strings.TrimSuffix(key, "s")
				id := ""
				if seq := topLevel(root, key); seq != nil && i < len(seq.Content) {
					id = scalarField(seq.Content[i], "id")
				}
				return problem(at(line), kind, id, i, formatPath(path[2:]), errors.New(detail))
			}
		}
	}
	if f := formatPath(path); f != "" {
		detail = f + ": " + detail
	}
	return classify(fmt.Errorf("%s: %s", at(line), detail), source.ErrInvalid)
}

// typeName is the name of T in yaml.v3's messages.
func typeName[T any]() string { return reflect.TypeFor[T]().String() }

func scalarField(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

// pathAt returns the path (mapping keys and list indexes) to the deepest
// node on the given line, preferring a key called key.
func pathAt(n *yaml.Node, line int, key string) []any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return pathAt(n.Content[0], line, key)
		}
	case yaml.MappingNode:
		var onLine []any
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Line == line && (k.Value == key || onLine == nil) {
				onLine = []any{k.Value}
				if k.Value == key {
					return onLine
				}
			}
			if (v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode) && v.Line <= line && line <= lastLine(v) {
				if sub := pathAt(v, line, key); sub != nil || k.Line != line {
					return append([]any{k.Value}, sub...)
				}
			}
		}
		return onLine
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if c.Line <= line && line <= lastLine(c) {
				return append([]any{i}, pathAt(c, line, key)...)
			}
		}
	}
	return nil
}

func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}

// formatPath renders a path as `emails[0].primary`.
func formatPath(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch x := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", x)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(x)
		}
	}
	return b.String()
}
