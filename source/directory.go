package source

import (
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap/zapcore"
)

// Directory is a snapshot of the users and groups in scope at a source.
// Order carries no meaning.
type Directory struct {
	// Users are the users in scope.
	Users []User
	// Groups are the groups in scope.
	Groups []Group
}

// Clone returns a deep copy of d.
func (d *Directory) Clone() *Directory {
	c := &Directory{}
	if d.Users != nil {
		c.Users = make([]User, len(d.Users))
		for i := range d.Users {
			c.Users[i] = d.Users[i].Clone()
		}
	}
	if d.Groups != nil {
		c.Groups = make([]Group, len(d.Groups))
		for i := range d.Groups {
			c.Groups[i] = d.Groups[i].Clone()
		}
	}
	return c
}

// MarshalLogObject logs the numbers of users and groups.
func (d *Directory) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddInt("users", len(d.Users))
	enc.AddInt("groups", len(d.Groups))
	return nil
}

// ObjectError is a problem with one user or group, naming the object and
// the field. It matches ErrInvalid with errors.Is; Err is the detail.
type ObjectError struct {
	// Kind is "user" or "group".
	Kind string
	// ID is the object's source id, empty if it has none.
	ID string
	// Index is the object's position in Directory.Users or
	// Directory.Groups (or in the file it came from), -1 if not known.
	Index int
	// Field names what is wrong: "id", "state", "emails[1].value",
	// "members[3]", `attributes["Cost Center"]`; empty for the object as a
	// whole.
	Field string
	// Err is the problem.
	Err error
}

// Error reads like `user "u-1" (users[4]): state: undefined state 9`.
func (e *ObjectError) Error() string {
	var b strings.Builder
	kind := e.Kind
	if kind == "" {
		kind = "object"
	}
	b.WriteString(kind)
	if e.ID != "" {
		fmt.Fprintf(&b, " %q", shorten(e.ID))
	}
	if e.Index >= 0 {
		fmt.Fprintf(&b, " (%ss[%d])", kind, e.Index)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("invalid")
	}
	return b.String()
}

// Unwrap returns the detail.
func (e *ObjectError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalid.
func (e *ObjectError) Is(target error) bool { return target == ErrInvalid }

// problems collects ObjectErrors.
type problems []error

func (p *problems) add(kind, id string, index int, field, format string, args ...any) {
	*p = append(*p, &ObjectError{Kind: kind, ID: id, Index: index, Field: field, Err: fmt.Errorf(format, args...)})
}

// Validate checks the directory and reports every problem, each an
// *ObjectError naming the object and the field, joined with errors.Join;
// nil if there is none. It checks that:
//
//   - every user and group has an id, unique within its kind;
//   - every state is defined;
//   - user names are unique ignoring case among users not deleted (Google
//     lets a new account take a deleted one's address);
//   - emails have values and at most one is primary;
//   - attribute names are non-empty, do not shadow a built-in name, do not
//     collide ignoring case, and values are of an attribute type;
//   - group members and member groups name users and groups of the
//     directory, each once (member groups may form a cycle:
//     Index.TransitiveMembers follows one once);
//   - every string is valid UTF-8 and within the size limits
//     (MaxIDBytes, MaxUserNameBytes, MaxGroupNameBytes, MaxValueBytes,
//     MaxListItems);
//   - ids, user names, email values and types, and group names and
//     emails hold no control character (NUL, line breaks, tabs, DEL and
//     the C1 controls); user names and group names are not white space
//     only.
func (d *Directory) Validate() error {
	var p problems
	users := newKeyIndex(len(d.Users), func(i int) string { return d.Users[i].ID })
	// The lower-case user names, by user: most are their own lower case,
	// which strings.ToLower returns without a copy.
	lower := make([]string, len(d.Users))
	names := newKeyIndex(len(d.Users), func(i int) string { return lower[i] })
	for i := range d.Users {
		u := &d.Users[i]
		if u.ID == "" {
			p.add("user", "", i, "id", "empty")
		} else if j, dup := users.add(i); dup {
			p.add("user", u.ID, i, "id", "duplicate of users[%d]", j)
		}
		p.checkText("user", u.ID, i, "id", u.ID, MaxIDBytes, keyText)
		p.checkText("user", u.ID, i, "userName", u.UserName, MaxUserNameBytes, nameText)
		p.checkText("user", u.ID, i, "givenName", u.GivenName, MaxValueBytes, freeText)
		p.checkText("user", u.ID, i, "familyName", u.FamilyName, MaxValueBytes, freeText)
		p.checkText("user", u.ID, i, "displayName", u.DisplayName, MaxValueBytes, freeText)
		if !u.State.Valid() {
			p.add("user", u.ID, i, "state", "undefined state %d", uint8(u.State))
		}
		if u.UserName != "" && u.State != StateDeleted {
			lower[i] = strings.ToLower(u.UserName)
			if j, dup := names.add(i); dup {
				p.add("user", u.ID, i, "userName", "%q is also the user name of user %q (users[%d])",
					shorten(u.UserName), shorten(d.Users[j].ID), j)
			}
		}
		primaries := 0
		for k, e := range u.Emails {
			if strings.TrimSpace(e.Value) == "" {
				p.add("user", u.ID, i, fmt.Sprintf("emails[%d].value", k), "empty")
			} else if msg := textProblem(e.Value, MaxValueBytes, keyText); msg != "" {
				p.add("user", u.ID, i, fmt.Sprintf("emails[%d].value", k), "%s", msg)
			}
			if msg := textProblem(e.Type, MaxValueBytes, keyText); msg != "" {
				p.add("user", u.ID, i, fmt.Sprintf("emails[%d].type", k), "%s", msg)
			}
			if e.Primary {
				primaries++
			}
		}
		if primaries > 1 {
			p.add("user", u.ID, i, "emails", "%d emails are primary; at most one may be", primaries)
		}
		validateAttrs(&p, "user", u.ID, i, u.Attributes, userBuiltins[:])
	}
	groups := make(map[string]int, len(d.Groups))
	for i := range d.Groups {
		g := &d.Groups[i]
		switch j, dup := groups[g.ID]; {
		case g.ID == "":
			p.add("group", "", i, "id", "empty")
		case dup:
			p.add("group", g.ID, i, "id", "duplicate of groups[%d]", j)
		default:
			groups[g.ID] = i
		}
		p.checkText("group", g.ID, i, "id", g.ID, MaxIDBytes, keyText)
		p.checkText("group", g.ID, i, "displayName", g.DisplayName, MaxGroupNameBytes, nameText)
		p.checkText("group", g.ID, i, "email", g.Email, MaxValueBytes, keyText)
		p.checkText("group", g.ID, i, "description", g.Description, MaxValueBytes, freeText)
		validateAttrs(&p, "group", g.ID, i, g.Attributes, groupBuiltins[:])
	}
	// A member seen in this group is marked in the slot of its user (or
	// group) index with the group's number, and where it was: no map of
	// the members per group (a million insertions for 100,000 users in
	// 10 groups each).
	userSeen, groupSeen := make([]seenAt, len(d.Users)), make([]seenAt, len(d.Groups))
	for i := range d.Groups {
		g := &d.Groups[i]
		for k, m := range g.Members {
			if u, ok := users.find(m); !ok {
				p.add("group", g.ID, i, fmt.Sprintf("members[%d]", k), "unknown user %q", m)
			} else if j, dup := userSeen[u].in(i); dup {
				p.add("group", g.ID, i, fmt.Sprintf("members[%d]", k), "user %q is already members[%d]", m, j)
				userSeen[u].pos = k
			} else {
				userSeen[u] = seenAt{group: i + 1, pos: k}
			}
		}
		for k, m := range g.MemberGroups {
			if h, ok := groups[m]; !ok {
				p.add("group", g.ID, i, fmt.Sprintf("memberGroups[%d]", k), "unknown group %q", m)
			} else if j, dup := groupSeen[h].in(i); dup {
				p.add("group", g.ID, i, fmt.Sprintf("memberGroups[%d]", k), "group %q is already memberGroups[%d]", m, j)
				groupSeen[h].pos = k
			} else {
				groupSeen[h] = seenAt{group: i + 1, pos: k}
			}
		}
	}
	return errors.Join(p...)
}

// lowerCollide reports whether two of names are the same in lower case.
// A few names (the usual case) are compared pairwise, EqualFold sorting
// out the pairs worth lowering, with no map or copy per object.
func lowerCollide(names []string) bool {
	if len(names) > 16 {
		seen := make(map[string]bool, len(names))
		for _, k := range names {
			lk := strings.ToLower(k)
			if seen[lk] {
				return true
			}
			seen[lk] = true
		}
		return false
	}
	for n, k := range names {
		for _, o := range names[:n] {
			if strings.EqualFold(o, k) && strings.ToLower(o) == strings.ToLower(k) {
				return true
			}
		}
	}
	return false
}

// seenAt is where Validate last saw a member: in group number group
// (1 + its index; 0: in none yet), at pos.
type seenAt struct{ group, pos int }

// in returns where the member was in group i, if it was.
func (s seenAt) in(i int) (int, bool) { return s.pos, s.group == i+1 }

// attrsValid reports whether validateAttrs would find nothing wrong with
// attrs.
func attrsValid(attrs Attrs, builtins []string) bool {
	for k, v := range attrs.All() {
		if strings.TrimSpace(k) == "" || isBuiltin(builtins, k) || !validValue(v) || !valueOK(v) {
			return false
		}
	}
	return attrs.Len() < 2 || !lowerCollide(attrs.Names())
}

// validateAttrs checks attribute names and value types, reporting in name
// order ignoring case.
func validateAttrs(p *problems, kind, id string, index int, attrs Attrs, builtins []string) {
	// Most objects are fine: check cheaply first, sort only to report.
	if attrsValid(attrs, builtins) {
		return
	}
	keys := attrs.sortedByFold()
	for n, k := range keys {
		field := fmt.Sprintf("attributes[%q]", k)
		switch {
		case strings.TrimSpace(k) == "":
			p.add(kind, id, index, field, "empty attribute name")
		case isBuiltin(builtins, k):
			p.add(kind, id, index, field, "the name is a built-in field's; set the field instead")
		case n > 0 && strings.EqualFold(keys[n-1], k):
			p.add(kind, id, index, field, "collides with attribute %q ignoring case", keys[n-1])
		}
		if v := attrs.Value(k); !validValue(v) {
			p.add(kind, id, index, field, "value of type %T; want string, bool, int64, float64, []string or time.Time", v)
		} else {
			p.checkValue(kind, id, index, field, v)
		}
	}
}
