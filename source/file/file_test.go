package file_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/synth"
)

const goodYAML = `# a small directory
users:
  - id: u-1
    userName: ada@example.com
    email: ada@example.com
    givenName: Ada
    familyName: Lovelace
    displayName: Ada Lovelace
    attributes:
      department: R&D
      employeeId: E1
      level: 3
      fte: 0.8
      mfaEnrolled: true
      licenses: [M365_E5, NETSKOPE]
      hireDate: 2020-01-06T00:00:00Z
      quoted: "2020-01-06T00:00:00Z"
      gone: null
      HR: {costCenter: CC-1, region: {name: EU}}
  - id: u-2
    userName: bob@example.com
    emails:
      - {value: bob@example.com, type: work, primary: true}
      - {value: bob@home.example, type: home}
    state: Suspended
  - id: u-3
    userName: cy@example.com
    state: deleted
    deletedAt: 2025-05-20T10:00:00Z
groups:
  - id: g-1
    displayName: Engineering
    email: eng@example.com
    description: Everyone in engineering
    attributes: {type: department}
    members: [u-1, u-2]
    memberGroups: [g-2]
  - id: g-2
    displayName: Ops
`

const goodJSON = `{
  "users": [
    {"id": "u-1", "userName": "ada@example.com", "email": "ada@example.com",
     "givenName": "Ada", "familyName": "Lovelace", "displayName": "Ada Lovelace",
     "attributes": {"department": "R&D", "employeeId": "E1", "level": 3, "fte": 0.8,
       "mfaEnrolled": true, "licenses": ["M365_E5", "NETSKOPE"],
       "hireDate": "2020-01-06T00:00:00Z", "quoted": "2020-01-06T00:00:00Z", "gone": null,
       "HR": {"costCenter": "CC-1", "region": {"name": "EU"}}}},
    {"id": "u-2", "userName": "bob@example.com",
     "emails": [{"value": "bob@example.com", "type": "work", "primary": true},
                {"value": "bob@home.example", "type": "home"}],
     "state": "Suspended"},
    {"id": "u-3", "userName": "cy@example.com", "state": "deleted", "deletedAt": "2025-05-20T10:00:00Z"}
  ],
  "groups": [
    {"id": "g-1", "displayName": "Engineering", "email": "eng@example.com",
     "description": "Everyone in engineering", "attributes": {"type": "department"},
     "members": ["u-1", "u-2"], "memberGroups": ["g-2"]},
    {"id": "g-2", "displayName": "Ops"}
  ]
}`

func wantGood(quotedIsTime bool) *source.Directory {
	hired := time.Date(2020, 1, 6, 0, 0, 0, 0, time.UTC)
	var quoted any = "2020-01-06T00:00:00Z"
	if quotedIsTime {
		quoted = hired
	}
	return &source.Directory{
		Users: []source.User{
			{ID: "u-1", UserName: "ada@example.com", Emails: []source.Email{{Value: "ada@example.com", Type: "work", Primary: true}},
				GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada Lovelace",
				Attributes: source.NewAttrs(map[string]any{"department": "R&D", "employeeId": "E1", "level": int64(3), "fte": 0.8,
					"mfaEnrolled": true, "licenses": []string{"M365_E5", "NETSKOPE"}, "hireDate": hired,
					"quoted": quoted, "HR.costCenter": "CC-1", "HR.region.name": "EU"})},
			{ID: "u-2", UserName: "bob@example.com", State: source.StateSuspended, Emails: []source.Email{
				{Value: "bob@example.com", Type: "work", Primary: true}, {Value: "bob@home.example", Type: "home"}}},
			{ID: "u-3", UserName: "cy@example.com", State: source.StateDeleted, DeletedAt: time.Date(2025, 5, 20, 10, 0, 0, 0, time.UTC)},
		},
		Groups: []source.Group{
			{ID: "g-1", DisplayName: "Engineering", Email: "eng@example.com", Description: "Everyone in engineering",
				Attributes: source.NewAttrs(map[string]any{"type": "department"}), Members: []string{"u-1", "u-2"}, MemberGroups: []string{"g-2"}},
			{ID: "g-2", DisplayName: "Ops"},
		},
	}
}

func TestDecodeGood(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		format file.Format
		want   *source.Directory
	}{
		{"yaml", goodYAML, file.FormatYAML, wantGood(false)},
		{"json", goodJSON, file.FormatJSON, wantGood(true)},
		{"auto yaml", goodYAML, file.FormatAuto, wantGood(false)},
		{"auto json", goodJSON, file.FormatAuto, wantGood(true)},
		{"empty lists", "users: []\ngroups: []\n", file.FormatYAML, &source.Directory{Users: []source.User{}, Groups: []source.Group{}}},
		{"null groups json", `{"users": [], "groups": null}`, file.FormatJSON, &source.Directory{Users: []source.User{}, Groups: []source.Group{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := file.Decode(strings.NewReader(tt.data), tt.format)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

// badFile is a file Read refuses.
type badFile struct {
	name   string
	format file.Format
	data   string
	want   []string // one substring per expected problem, in order
}

// badFiles are files with problems, each with what Read reports.
func badFiles() []badFile {
	return []badFile{
		{"yaml unknown user field", file.FormatYAML, "users:\n  - id: u-1\n    fristName: Ada\n",
			[]string{`line 3: user "u-1" (users[0]): fristName: unknown field`}},
		{"yaml unknown email field", file.FormatYAML, "users:\n  - id: u-1\n    emails:\n      - value: a@x\n        prime: true\n",
			[]string{`line 5: user "u-1" (users[0]): emails[0].prime: unknown field`}},
		{"yaml unknown field in flow mapping", file.FormatYAML, "users:\n  - {id: u-1, emails: [{value: a@x, kind: work}]}\n",
			[]string{`line 2: user "u-1" (users[0]): emails[0].kind: unknown field`}},
		{"yaml unknown group field", file.FormatYAML, "users: []\ngroups:\n  - id: g-1\n    owner: x\n",
			[]string{`line 4: group "g-1" (groups[0]): owner: unknown field`}},
		{"yaml unknown top-level field", file.FormatYAML, "users: []\nuser: []\n",
			[]string{`line 2: user: unknown field`}},
		{"yaml wrong type", file.FormatYAML, "users:\n  - id: u-1\n    emails:\n      - value: a@x\n        primary: maybe\n",
			[]string{"line 5: user \"u-1\" (users[0]): emails[0].primary: cannot unmarshal !!str `maybe` into bool"}},
		{"yaml user not a mapping", file.FormatYAML, "users:\n  - u-1\n",
			[]string{`line 2: user (users[0]): cannot unmarshal !!str ` + "`u-1`" + ` into a user (a mapping)`}},
		{"yaml not a mapping", file.FormatYAML, "- a\n- b\n",
			[]string{`line 1: cannot unmarshal !!seq into a mapping with users and groups`}},
		{"yaml bad state", file.FormatYAML, "users:\n  - id: u-1\n  - id: u-2\n    state: actve\n",
			[]string{`line 4: user "u-2" (users[1]): state: unknown state "actve" (want active, suspended or deleted)`}},
		{"yaml duplicate id", file.FormatYAML, "users:\n  - id: u-1\n  - id: u-2\n  - id: u-1\n",
			[]string{`line 4: user "u-1" (users[2]): id: duplicate of users[0]`}},
		{"yaml member not found", file.FormatYAML, "users:\n  - id: u-1\ngroups:\n  - id: g-1\n    members: [u-1, u-9]\n",
			[]string{`line 5: group "g-1" (groups[0]): members[1]: unknown user "u-9"`}},
		{"yaml member group not found", file.FormatYAML, "users: []\ngroups:\n  - id: g-1\n    memberGroups: [g-2]\n",
			[]string{`line 4: group "g-1" (groups[0]): memberGroups[0]: unknown group "g-2"`}},
		{"yaml missing id", file.FormatYAML, "users:\n  - userName: a@x\n",
			[]string{`line 2: user (users[0]): id: empty`}},
		{"yaml email and emails", file.FormatYAML, "users:\n  - id: u-1\n    email: a@x\n    emails: [{value: a@x}]\n",
			[]string{`line 3: user "u-1" (users[0]): email: set email or emails, not both`}},
		{"yaml bad deletedAt", file.FormatYAML, "users:\n  - id: u-1\n    state: deleted\n    deletedAt: yesterday\n",
			[]string{`line 4: user "u-1" (users[0]): deletedAt: "yesterday" is not an RFC 3339 time`}},
		{"yaml bad list attribute", file.FormatYAML, "users:\n  - id: u-1\n    attributes: {tags: [a, 2]}\n",
			[]string{`line 3: user "u-1" (users[0]): attributes["tags"]: item 1 is a number; lists hold strings only`}},
		{"yaml list of mappings attribute", file.FormatYAML, "users:\n  - id: u-1\n    attributes: {x: [{a: 1}]}\n",
			[]string{`attributes["x"]: item 0 is a mapping`}},
		{"yaml attribute set twice", file.FormatYAML, "users:\n  - id: u-1\n    attributes: {HR: {cc: a}, HR.cc: b}\n",
			[]string{`user "u-1" (users[0]): attributes["HR.cc"]: set twice`}},
		{"yaml shadowing attribute", file.FormatYAML, "users:\n  - id: u-1\n    attributes: {mail: a@x}\n",
			[]string{`line 3: user "u-1" (users[0]): attributes["mail"]: the name is a built-in field's`}},
		{"yaml two primaries", file.FormatYAML, "users:\n  - id: u-1\n    emails: [{value: a@x, primary: true}, {value: b@x, primary: true}]\n",
			[]string{`line 3: user "u-1" (users[0]): emails: 2 emails are primary`}},
		{"yaml syntax", file.FormatYAML, "users:\n  - id: u-1\n   bad: [\n",
			[]string{`yaml: line`}},
		{"yaml two documents", file.FormatYAML, "users: []\n---\nusers: []\n",
			[]string{`line 2: more than one YAML document`}},
		{"yaml empty", file.FormatYAML, "  \n\n", []string{`the file is empty; write ` + "`users: []`"}},
		{"yaml comment only", file.FormatYAML, "# nothing\n", []string{`no YAML document`}},
		{"yaml several problems", file.FormatYAML,
			"users:\n  - id: u-1\n    state: gone\n  - id: u-1\n  - id: u-3\n    attributes: {x: [1]}\ngroups:\n  - id: g-1\n    members: [u-4]\n",
			[]string{`line 3: user "u-1" (users[0]): state: unknown state "gone"`,
				`line 6: user "u-3" (users[2]): attributes["x"]: item 0 is a number`,
				`line 4: user "u-1" (users[1]): id: duplicate of users[0]`,
				`line 9: group "g-1" (groups[0]): members[0]: unknown user "u-4"`}},
		{"yaml several validation problems", file.FormatYAML,
			"users:\n  - id: u-1\n  - id: u-1\ngroups:\n  - id: g-1\n    members: [u-4]\n",
			[]string{`line 3: user "u-1" (users[1]): id: duplicate of users[0]`,
				`line 6: group "g-1" (groups[0]): members[0]: unknown user "u-4"`}},

		{"json unknown user field", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\",\n   \"fristName\": \"Ada\"}\n]}",
			[]string{`line 3: user "u-1" (users[0]): fristName: unknown field`}},
		{"json unknown email field", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\", \"emails\": [{\"value\": \"a@x\", \"prime\": true}]}\n]}",
			[]string{`line 2: user "u-1" (users[0]): prime: unknown field`}},
		{"json unknown top-level field", file.FormatJSON, "{\"users\": [],\n \"user\": []}",
			[]string{`line 2: unknown field "user"`}},
		{"json wrong type", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\",\n   \"emails\": [{\"value\": \"a@x\",\n     \"primary\": \"yes\"}]}]}",
			[]string{`line 4: user "u-1" (users[0]): emails.primary: want bool, got a JSON string`}},
		{"json user not an object", file.FormatJSON, "{\"users\": [\"u-1\"]}",
			[]string{`line 1: user (users[0]): want an object, got a JSON string`}},
		{"json users not a list", file.FormatJSON, "{\"users\": {\"id\": \"u-1\"}, \"groups\": 3}",
			[]string{`line 1: users: want a list`, `line 1: groups: want a list`}},
		{"json not an object", file.FormatJSON, "[1]", []string{`line 1: want a JSON object with users and groups`}},
		{"json syntax", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\",}\n]}", []string{`line 2: invalid character '}'`}},
		{"json truncated", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\"}", []string{`line 2: unexpected end of JSON input`}},
		{"json trailing data", file.FormatJSON, "{\"users\": []}\n{}", []string{`line 2: data after the JSON object`}},
		{"json bad state", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\"},\n  {\"id\": \"u-2\", \"state\": \"actve\"}]}",
			[]string{`line 3: user "u-2" (users[1]): state: unknown state "actve"`}},
		{"json duplicate id", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\"},\n  {\"id\": \"u-1\"}]}",
			[]string{`line 3: user "u-1" (users[1]): id: duplicate of users[0]`}},
		{"json member not found", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\"}],\n \"groups\": [\n  {\"id\": \"g-1\", \"members\": [\"u-9\"]}]}",
			[]string{`line 3: group "g-1" (groups[0]): members[0]: unknown user "u-9"`}},
		{"json several entries bad", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\", \"x\": 1},\n  {\"id\": \"u-2\", \"y\": 2}]}",
			[]string{`line 2: user "u-1" (users[0]): x: unknown field`, `line 3: user "u-2" (users[1]): y: unknown field`}},
		{"json empty", file.FormatJSON, "", []string{`the file is empty`}},

		// Duplicate keys: encoding/json keeps the last one silently.
		{"json duplicate user name", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\",\n   \"userName\": \"a@x\",\n   \"userName\": \"b@x\"}]}",
			[]string{`line 4: user "u-1" (users[0]): userName: set twice in one object (also on line 3)`}},
		{"json keys equal ignoring case", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\", \"userName\": \"a@x\",\n \"USERNAME\": \"b@x\"}]}",
			[]string{`line 2: user "u-1" (users[0]): USERNAME: set twice in one object: "userName" (line 1) and "USERNAME" name the same field`}},
		{"json escaped duplicate key", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\", \"\\u0069d\": \"u-2\"}]}",
			[]string{`line 1: user "u-2" (users[0]): id: set twice in one object (also on line 1)`}},
		{"json duplicate attribute", file.FormatJSON, "{\"users\": [\n {\"id\": \"u-1\", \"attributes\": {\"HR\": {\"cc\": \"a\",\n  \"cc\": \"b\"}}}]}",
			[]string{`line 3: user "u-1" (users[0]): attributes["HR.cc"]: set twice in one object (also on line 2)`}},
		{"json duplicate email field", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\", \"emails\": [{\"value\": \"a@x\"}, {\"value\": \"b@x\", \"value\": \"c@x\"}]}]}",
			[]string{`user "u-1" (users[0]): emails[1].value: set twice`}},
		{"json duplicate group member list", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\"}, {\"id\": \"u-2\"}],\n\"groups\": [{\"id\": \"g-1\", \"displayName\": \"G\",\n \"members\": [\"u-1\"],\n \"members\": [\"u-2\"]}]}",
			[]string{`line 4: group "g-1" (groups[0]): members: set twice in one object (also on line 3)`}},
		{"json duplicate top-level key", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\"}],\n \"users\": []}",
			[]string{`line 2: users: set twice in one object (also on line 1)`}},
		{"yaml duplicate key", file.FormatYAML, "users:\n  - id: u-1\n    userName: a@x\n    userName: b@x\n",
			[]string{`line 4: user "u-1" (users[0]): userName: mapping key "userName" already defined at line 3`}},

		// Nothing in the file: as likely a mistake as an empty directory.
		{"yaml document marker only", file.FormatYAML, "---\n", []string{"the file has no users list; write `users: []`"}},
		{"yaml empty mapping", file.FormatYAML, "{}\n", []string{"the file has no users list"}},
		{"yaml groups only", file.FormatYAML, "groups: []\n", []string{"the file has no users list"}},
		{"yaml null users", file.FormatYAML, "users:\n", []string{"the file has no users list"}},
		{"yaml null", file.FormatYAML, "null\n", []string{"the file has no users list"}},
		{"json empty object", file.FormatJSON, "{}", []string{"the file has no users list"}},
		{"json null users", file.FormatJSON, "{\"users\": null, \"groups\": []}", []string{"the file has no users list"}},
		{"auto groups only", file.FormatAuto, "{\"groups\": []}", []string{"the file has no users list"}},

		// Invalid UTF-8 is refused, not turned into U+FFFD.
		{"json invalid UTF-8", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\", \"userName\": \"a\xffb@x\"}]}",
			[]string{`line 2: not valid UTF-8 (byte 31 of the line); save the file as UTF-8`}},
		{"yaml invalid UTF-8", file.FormatYAML, "users:\n  - id: u-1\n    displayName: Ad\xe9\n  - id: u-2\n    displayName: \xc0\xafx\n",
			[]string{`line 3: not valid UTF-8 (byte 20 of the line)`, `line 5: not valid UTF-8 (byte 18 of the line)`}},
		{"latin-1 file", file.FormatAuto, "users:\n  - id: u-1\n    userName: jos\xe9@x\n",
			[]string{`line 3: not valid UTF-8`}},

		// Text the directory validator refuses, located.
		{"yaml blank user name", file.FormatYAML, "users:\n  - id: u-1\n    userName: \"  \"\n",
			[]string{`line 3: user "u-1" (users[0]): userName: only white space`}},
		{"yaml control character in group name", file.FormatYAML, "users: []\ngroups:\n  - id: g-1\n    displayName: \"Eng\\0\"\n",
			[]string{`line 4: group "g-1" (groups[0]): displayName: control character U+0000 at byte 3`}},
		{"json escaped NUL in user name", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\", \"userName\": \"a\\u0000b\"}]}",
			[]string{`line 2: user "u-1" (users[0]): userName: control character U+0000 at byte 1`}},
		{"json escaped lone surrogate", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\", \"attributes\": {\"x\": \"\\ud800\"}}]}",
			[]string{`line 1: user "u-1" (users[0]): attributes["x"]: the escape \ud800 is half of a UTF-16 surrogate pair, not a character`}},
		{"json lone low surrogate in key", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\", \"attributes\": {\"a\\udc00\": \"x\"}}]}",
			[]string{`user "u-1" (users[0]): attributes["a` + "\ufffd" + `"]: key: the escape \udc00 is half`}},
		// Attributes, whichever a selecting read keeps: the same checks.
		{"yaml attributes not a mapping", file.FormatYAML, "users:\n  - id: u-1\n    attributes: [a, b]\n",
			[]string{"line 3: user \"u-1\" (users[0]): attributes[0]: cannot unmarshal !!seq into a mapping"}},
		{"yaml attributes a string", file.FormatYAML, "users:\n  - id: u-1\n  - id: u-2\n    attributes: x\n    state: nope\n",
			[]string{"line 4: user \"u-2\" (users[1]): attributes: cannot unmarshal !!str `x` into a mapping"}},
		{"yaml attribute key not a string", file.FormatYAML, "users:\n  - id: u-1\n    attributes: {[a]: x}\n",
			[]string{`line 3: user "u-1" (users[0]): attributes`}},
		{"yaml duplicate attribute", file.FormatYAML, "users:\n  - id: u-1\n    attributes:\n      a: 1\n      a: 2\n",
			[]string{`line 5: user "u-1" (users[0]): attributes.a: mapping key "a" already defined at line 4`}},
		{"yaml attributes equal ignoring case", file.FormatYAML, "users:\n  - id: u-1\n    attributes: {Dept: a, dept: b}\n",
			[]string{`line 3: user "u-1" (users[0]): attributes["dept"]: collides with attribute "Dept" ignoring case`}},
		{"yaml empty attribute name", file.FormatYAML, "users:\n  - id: u-1\n    attributes: {\" \": a}\n",
			[]string{`line 3: user "u-1" (users[0]): attributes[" "]: empty attribute name`}},
		{"yaml group attribute shadowing", file.FormatYAML, "users: []\ngroups:\n  - id: g-1\n    attributes: {Members: x}\n",
			[]string{`line 4: group "g-1" (groups[0]): attributes["Members"]: the name is a built-in field's`}},
		{"yaml long attribute value", file.FormatYAML, "users:\n  - id: u-1\n    attributes: {x: " + strings.Repeat("a", 70000) + "}\n",
			[]string{`line 3: user "u-1" (users[0]): attributes["x"]: 70000 bytes`}},
		{"json attributes a string", file.FormatJSON, "{\"users\": [\n  {\"id\": \"u-1\",\n   \"attributes\": \"x\"}]}",
			[]string{`line 3: user "u-1" (users[0]): attributes: want map[string]interface {}, got a JSON string`}},
		{"json attributes a list", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\"}],\n \"groups\": [{\"id\": \"g-1\",\n \"attributes\": [1]}]}",
			[]string{`line 3: group "g-1" (groups[0]): attributes: want map[string]interface {}, got a JSON array`}},
		{"json attribute number out of range", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\",\n \"attributes\": {\"n\": 1e999}}]}",
			[]string{`line 1: user "u-1" (users[0]): attributes["n"]: number 1e999 is out of range`}},
		{"json attributes equal ignoring case", file.FormatJSON, "{\"users\": [{\"id\": \"u-1\", \"attributes\": {\"HR\": {\"CC\": \"a\"}, \"hr.cc\": \"b\"}}]}",
			[]string{`line 1: user "u-1" (users[0]): attributes["hr.cc"]: collides with attribute "HR.CC" ignoring case`}},
		{"yaml long user name", file.FormatYAML, "users:\n  - id: u-1\n    userName: " + strings.Repeat("a", 600) + "\n",
			[]string{`line 3: user "u-1" (users[0]): userName: 600 bytes; at most 512 are allowed`}},
	}
}

func TestDecodeBad(t *testing.T) {
	for _, tt := range badFiles() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := file.Decode(strings.NewReader(tt.data), tt.format)
			if err == nil {
				t.Fatalf("Decode succeeded: %+v", got)
			}
			if got != nil {
				t.Error("Decode returned a directory with its error")
			}
			if !errors.Is(err, source.ErrInvalid) {
				t.Errorf("error does not match source.ErrInvalid: %v", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("%d problems reported, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(lines) && !strings.Contains(lines[i], w) {
					t.Errorf("problem %d = %q\nwant it to contain %q", i, lines[i], w)
				}
			}
		})
	}
}

func TestDecodeObjectError(t *testing.T) {
	_, err := file.Decode(strings.NewReader("users:\n  - id: u-1\n    state: nope\n"), file.FormatYAML)
	var oe *source.ObjectError
	if !errors.As(err, &oe) || oe.Kind != "user" || oe.ID != "u-1" || oe.Index != 0 || oe.Field != "state" {
		t.Fatalf("errors.As(*source.ObjectError) = %+v from %v", oe, err)
	}
}

func TestRoundTrip(t *testing.T) {
	synthetic := synth.Generate(synth.Config{Users: 300, Groups: 30, MembershipsPerUser: 4,
		SuspendedFraction: 0.1, DeletedFraction: 0.05, Seed: 3})
	hand := wantGood(false)
	hand.Users[0].Attributes = hand.Users[0].Attributes.With("quoted", "plain")
	hand.Users[0].Attributes = hand.Users[0].Attributes.With("nanos", time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("", 5*3600)))
	hand.Users[1].Emails = append(hand.Users[1].Emails, source.Email{Value: "bob@other.example"})
	hand.Users = append(hand.Users, source.User{ID: "u-4", Emails: []source.Email{{Value: "x@y", Primary: true}}}) // not "work": kept as a list
	for _, format := range []file.Format{file.FormatYAML, file.FormatJSON} {
		for name, dir := range map[string]*source.Directory{"synth": synthetic, "hand": hand, "empty": {}} {
			t.Run(format.String()+"/"+name, func(t *testing.T) {
				var b bytes.Buffer
				if err := file.Write(&b, dir, format); err != nil {
					t.Fatalf("Write: %v", err)
				}
				got, err := file.Decode(&b, format)
				if err != nil {
					t.Fatalf("Decode of what Write wrote: %v", err)
				}
				normalizeEmpty(got)
				want := dir.Clone()
				normalizeEmpty(want)
				normalizeTimes(got)
				normalizeTimes(want)
				if !reflect.DeepEqual(got, want) {
					for i := range want.Users {
						if i < len(got.Users) && !reflect.DeepEqual(got.Users[i], want.Users[i]) {
							t.Fatalf("user %d:\n got %#v\nwant %#v", i, got.Users[i], want.Users[i])
						}
					}
					t.Fatalf("round trip differs")
				}
			})
		}
	}
}

// normalizeEmpty makes nil and empty lists alike.
func normalizeEmpty(d *source.Directory) {
	if d.Users == nil {
		d.Users = []source.User{}
	}
	if d.Groups == nil {
		d.Groups = []source.Group{}
	}
}

// normalizeTimes makes times with the same instant and offset compare
// equal (a parsed time's zone has no name).
func normalizeTimes(d *source.Directory) {
	fix := func(t time.Time) time.Time {
		_, off := t.Zone()
		if off == 0 {
			return t.UTC()
		}
		return t.In(time.FixedZone("", off))
	}
	for i := range d.Users {
		u := &d.Users[i]
		if !u.DeletedAt.IsZero() {
			u.DeletedAt = fix(u.DeletedAt)
		}
		for k, v := range u.Attributes.All() {
			if tv, ok := v.(time.Time); ok {
				u.Attributes = u.Attributes.With(k, fix(tv))
			}
		}
	}
}

func TestWriteErrors(t *testing.T) {
	var b bytes.Buffer
	if err := file.Write(&b, &source.Directory{}, file.FormatAuto); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("Write(FormatAuto) = %v, want ErrInvalid", err)
	}
	bad := &source.Directory{Users: []source.User{{ID: "u-1"}, {ID: "u-1"}}}
	err := file.Write(&b, bad, file.FormatYAML)
	if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), `user "u-1" (users[1]): id: duplicate`) {
		t.Errorf("Write(invalid) = %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("Write of an invalid directory wrote %d bytes", b.Len())
	}
}

func TestWriteFormat(t *testing.T) {
	dir := &source.Directory{Users: []source.User{{ID: "u-1", UserName: "a@x", Emails: []source.Email{{Value: "a@x", Type: "work", Primary: true}},
		State: source.StateSuspended, Attributes: source.NewAttrs(map[string]any{"dept": "R&D"})}}}
	var y, j bytes.Buffer
	if err := file.Write(&y, dir, file.FormatYAML); err != nil {
		t.Fatal(err)
	}
	wantYAML := "users:\n  - id: u-1\n    userName: a@x\n    email: a@x\n    state: suspended\n    attributes:\n      dept: R&D\ngroups: []\n"
	if y.String() != wantYAML {
		t.Errorf("YAML =\n%s\nwant\n%s", y.String(), wantYAML)
	}
	if err := file.Write(&j, dir, file.FormatJSON); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(j.String(), `"dept": "R&D"`) || !strings.Contains(j.String(), `"state": "suspended"`) {
		t.Errorf("JSON =\n%s", j.String())
	}
}

func TestNewReadsFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	tests := []struct {
		name string
		src  *file.Source
		want *source.Directory
	}{
		{"yaml", file.New(write("a.yaml", goodYAML)), wantGood(false)},
		{"yml upper", file.New(write("a.YML", goodYAML)), wantGood(false)},
		{"json", file.New(write("a.json", goodJSON)), wantGood(true)},
		{"sniffed json", file.New(write("a.conf", goodJSON)), wantGood(true)},
		{"sniffed yaml", file.New(write("a.txt", goodYAML)), wantGood(false)},
		{"format option", file.New(write("b.json", goodYAML), file.WithFormat(file.FormatYAML)), wantGood(false)},
		{"fs", file.New("dir/a.yaml", file.WithFS(fstest.MapFS{"dir/a.yaml": {Data: []byte(goodYAML)}})), wantGood(false)},
		{"bytes", file.FromBytes([]byte(goodJSON), file.FormatAuto), wantGood(true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.src.Read(ctx)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Read =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}

	// The file is read again on every Read.
	p := write("live.yaml", "users: []\n")
	src := file.New(p)
	if got, err := src.Read(ctx); err != nil || len(got.Users) != 0 {
		t.Fatalf("Read = %v, %v", got, err)
	}
	write("live.yaml", goodYAML)
	if got, err := src.Read(ctx); err != nil || len(got.Users) != 3 {
		t.Fatalf("Read after an edit = %v, %v", got, err)
	}
	// Errors name the file and line.
	write("live.yaml", "users:\n  - id: u-1\n    state: nope\n")
	if _, err := src.Read(ctx); err == nil || !strings.HasPrefix(err.Error(), p+`:3: user "u-1" (users[0]): state: unknown state "nope"`) {
		t.Fatalf("Read of a bad file = %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	src := file.New(missing)
	got, err := src.Read(context.Background())
	if got != nil || !errors.Is(err, source.ErrUnavailable) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Read of a missing file = %v, %v; want ErrUnavailable naming the file", got, err)
	}
	if strings.Contains(err.Error(), "source: unavailable") {
		t.Errorf("error %q repeats the sentinel's text", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, s := range []*file.Source{file.New(missing), file.FromBytes([]byte(goodYAML), file.FormatYAML), file.FromDirectory(nil)} {
		if got, err := s.Read(ctx); got != nil || !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Read with a cancelled context = %v, %v", s.Name(), got, err)
		}
	}
	if got, err := file.FromBytes([]byte("users: [\n"), file.FormatYAML).Read(context.Background()); got != nil || !errors.Is(err, source.ErrInvalid) {
		t.Errorf("Read of bad bytes = %v, %v", got, err)
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		src  *file.Source
		want string
	}{
		{file.New("/etc/provsync/dir.yaml"), "file:/etc/provsync/dir.yaml"},
		{file.FromBytes(nil, file.FormatYAML), "file:bytes"},
		{file.FromDirectory(nil), "memory"},
		{file.New("x.yaml", file.WithName("fixture")), "fixture"},
	}
	for _, tt := range tests {
		if got := tt.src.Name(); got != tt.want {
			t.Errorf("Name() = %q, want %q", got, tt.want)
		}
	}
}

func TestFromDirectory(t *testing.T) {
	ctx := context.Background()
	dir := wantGood(false)
	src := file.FromDirectory(dir)

	// Set copies: editing the directory afterwards changes nothing.
	dir.Users[0].UserName = "changed@example.com"
	got, err := src.Read(ctx)
	if err != nil || got.Users[0].UserName != "ada@example.com" {
		t.Fatalf("Read = %v, %v; want the directory as it was at Set", got, err)
	}
	// Read copies: editing the result changes nothing.
	got.Users[0].Attributes = got.Users[0].Attributes.With("department", "changed")
	again, _ := src.Read(ctx)
	if again.Users[0].Attributes.Value("department") != "R&D" {
		t.Fatal("editing a read directory changed the source")
	}
	// Set replaces; an invalid directory fails at Read, naming the source.
	src.Set(&source.Directory{Groups: []source.Group{{ID: "g", Members: []string{"nobody"}}}})
	if got, err := src.Read(ctx); got != nil || !errors.Is(err, source.ErrInvalid) ||
		!strings.Contains(err.Error(), `memory: group "g" (groups[0]): members[0]: unknown user "nobody"`) {
		t.Fatalf("Read of an invalid directory = %v, %v", got, err)
	}
	// Set switches even a file source to memory.
	fsrc := file.New("missing.yaml")
	fsrc.Set(dir)
	if got, err := fsrc.Read(ctx); err != nil || len(got.Users) != 3 {
		t.Fatalf("Read after Set on a file source = %v, %v", got, err)
	}
	if got, err := file.FromDirectory(nil).Read(ctx); err != nil || len(got.Users)+len(got.Groups) != 0 {
		t.Fatalf("FromDirectory(nil).Read = %v, %v", got, err)
	}
}

func TestFromDirectoryConcurrent(t *testing.T) {
	ctx := context.Background()
	dirs := []*source.Directory{
		synth.Generate(synth.Config{Users: 50, Groups: 5, MembershipsPerUser: 2, Seed: 1}),
		synth.Generate(synth.Config{Users: 80, Groups: 5, MembershipsPerUser: 2, Seed: 2}),
	}
	src := file.FromDirectory(dirs[0])
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 20 {
				src.Set(dirs[i%2])
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				got, err := src.Read(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n := len(got.Users); n != 50 && n != 80 {
					t.Errorf("Read returned %d users", n)
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkReadYAML10k(b *testing.B) { benchRead(b, file.FormatYAML) }
func BenchmarkReadJSON10k(b *testing.B) { benchRead(b, file.FormatJSON) }

func benchRead(b *testing.B, format file.Format) {
	dir := synth.Generate(synth.Config{Users: 10000, Groups: 500, MembershipsPerUser: 10, Seed: 1})
	var buf bytes.Buffer
	if err := file.Write(&buf, dir, format); err != nil {
		b.Fatal(err)
	}
	src := file.FromBytes(buf.Bytes(), format)
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Read(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
