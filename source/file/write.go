package file

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/provsync/provsync/source"
)

// Write writes dir to w in format (FormatJSON or FormatYAML), in the form
// Read reads back: a single primary work email is written as email, active
// states and empty fields are left out. dir must pass Validate; an invalid
// directory or FormatAuto is an error matching source.ErrInvalid.
//
// Two values do not survive a round trip unchanged: a float64 with no
// fraction (1.0) reads back as int64, and in JSON a string attribute in
// RFC 3339 form reads back as a time.
func Write(w io.Writer, dir *source.Directory, format Format) error {
	if format != FormatJSON && format != FormatYAML {
		return classify(fmt.Errorf("file: write: format %s; want json or yaml", format), source.ErrInvalid)
	}
	if dir == nil {
		dir = &source.Directory{}
	}
	if err := dir.Validate(); err != nil {
		return fmt.Errorf("file: write: %w", err)
	}
	out := fileDTO[map[string]any]{Users: make([]userDTO[map[string]any], len(dir.Users)), Groups: make([]groupDTO[map[string]any], len(dir.Groups))}
	isJSON := format == FormatJSON
	for i := range dir.Users {
		u := &dir.Users[i]
		d := userDTO[map[string]any]{
			ID: u.ID, UserName: u.UserName, GivenName: u.GivenName, FamilyName: u.FamilyName,
			DisplayName: u.DisplayName, Attributes: writeAttrs(u.Attributes.Map(), isJSON),
		}
		if len(u.Emails) == 1 && u.Emails[0].Primary && u.Emails[0].Type == "work" {
			d.Email = u.Emails[0].Value
		} else {
			for _, e := range u.Emails {
				d.Emails = append(d.Emails, emailDTO(e))
			}
		}
		if u.State != source.StateActive {
			d.State = u.State.String()
		}
		if !u.DeletedAt.IsZero() {
			d.DeletedAt = u.DeletedAt.Format(time.RFC3339Nano)
		}
		out.Users[i] = d
	}
	for i := range dir.Groups {
		g := &dir.Groups[i]
		out.Groups[i] = groupDTO[map[string]any]{
			ID: g.ID, DisplayName: g.DisplayName, Email: g.Email, Description: g.Description,
			Attributes: writeAttrs(g.Attributes.Map(), isJSON), Members: g.Members, MemberGroups: g.MemberGroups,
		}
	}
	if isJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("file: write json: %w", err)
		}
		return nil
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("file: write yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("file: write yaml: %w", err)
	}
	return nil
}

// writeAttrs returns attrs as written: times as RFC 3339 strings in JSON.
func writeAttrs(attrs map[string]any, isJSON bool) map[string]any {
	if len(attrs) == 0 {
		return nil
	}
	if !isJSON {
		return attrs
	}
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		if t, ok := v.(time.Time); ok {
			v = t.Format(time.RFC3339Nano)
		}
		out[k] = v
	}
	return out
}
