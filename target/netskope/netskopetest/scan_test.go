package netskopetest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/provsync/provsync/scim"
)

// scanBodyCases are bodies for TestScanBody beyond those of
// validateCases, decodeBodyCases and attrSetBodies, and whether scanBody
// reads them itself as a user and as a group.
var scanBodyCases = []struct {
	body        string
	user, group bool
}{
	{`{"userName":"a","displayName":"x<y>&z","externalId":"e","name":{"givenName":"G","familyName":"F"},"emails":[{"value":"a@x","type":"work","primary":true},{"value":"b@x"}],"active":false}`, true, true},
	{`{"userName":"a","userName":"b","displayName":"d","displayName":"\u00e9\u2028"}`, true, true},
	{`{"userName":"a","name":{"givenName":"x","givenName":null}}`, false, false},
	{`{"userName":"a","name":{}}`, true, false},
	{`{"userName":"a","name":{"givenName":""},"nickName":""}`, true, false},
	{`{"userName":"a","emails":[{}],"phoneNumbers":[]}`, true, false},
	{`{"userName":"a","` + entURN + `":{"manager":{}}}`, true, false},
	{`{"userName":"a","` + entURN + `":{"manager":{"value":"m"},"costCenter":"c","unknown":"u"}}`, true, false},
	{`{"userName":"a","` + entURN + `":{"Manager":{"value":"m"}}}`, false, false},
	{`{"userName":"a","` + entURN + `":[]}`, false, false},
	{`{"userName":"a","URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER":{"department":"x"}}`, true, false},
	{`{"userName":"a","active":"true"}`, false, false},
	{`{"userName":"a","Active":true}`, false, false},
	{`{"userName":"a","password":"secret","title":"t"}`, true, false},
	{`{"userName":"a","password":5}`, false, false},
	{`{"userName":"","displayName":"d"}`, false, true},
	{`{"displayName":"g","members":[{"value":"a"},{"value":"b","display":"B"}]}`, false, true},
	{`{"displayName":"g","members":[{"value":"a","value":""}]}`, false, false},
	{`{"displayName":"g","members":[{"display":"no value"}]}`, false, false},
	{`{"displayName":"g","members":[]}`, false, true},
	{`{"displayName":"g","members":null}`, false, true},
	{`{"displayName":"g","members":[{"value":"a"}],"members":[{"value":"b"}]}`, false, true},
	{`{"displayName":"","externalId":"e"}`, false, false},
	{`{"displayName":"g","externalId":"\ud800"}`, false, true},
	{`{"userName":"deep","` + entURN + `":{"manager":{"value":{"a":{"b":"c"}}}}}`, false, false},
	{`{"userName":"a","title":1}`, false, false},
	{`{"userName":"a"} trailing`, true, false},
	{`{"userName":"a",}`, false, false},
	{`  {"userName":"a"}`, true, false},
	{`{"userName":"josé@example.com","displayName":"José Núñez <jn>","name":{"givenName":"José","familyName":"佐藤"}}`, true, true},
	{"{\"userName\":\"line\u2028para\u2029\",\"displayName\":\"del\x7f\"}", true, true},
	{"{\"userName\":\"line\u2028\",\"displayName\":\"para\u2029\"}", true, true},
	{"{\"userName\":\"bad\xff\xfeutf8\",\"title\":\"\xc3\"}", true, false},
	{"{\"userName\":\"control\x01\"}", false, false},
}

// TestScanBody checks that scanBody reads a body into what decodeBody,
// fixActive, validateFast and prepare give for it, and that it reads the
// bodies a sync sends itself.
func TestScanBody(t *testing.T) {
	st := newStore()
	for _, tt := range scanBodyCases {
		for _, k := range []kind{kindUser, kindGroup} {
			ok := checkScanBody(t, st.table(k), st.names, []byte(tt.body))
			if want := tt.user && k == kindUser || tt.group && k == kindGroup; ok != want {
				t.Errorf("%s %s: read by scanBody %v, want %v", k, tt.body, ok, want)
			}
		}
	}
	for _, tt := range validateCases {
		checkScanBody(t, st.table(tt.kind), st.names, []byte(tt.body))
	}
	for _, tt := range attrSetBodies {
		checkScanBody(t, st.users, st.names, []byte(tt.body))
		checkScanBody(t, st.groups, st.names, []byte(tt.body))
	}
	for _, tt := range decodeBodyCases {
		checkScanBody(t, st.users, st.names, []byte(tt.body))
		checkScanBody(t, st.groups, st.names, []byte(tt.body))
	}

	// What the client sends.
	u := user("hanako.sato")
	u.ExternalID, u.DisplayName, u.Title = "7496ad38", "Hanako Sato", "Engineer"
	u.Enterprise = &scim.EnterpriseUser{Department: "Eng", EmployeeNumber: "42", Manager: &scim.Manager{Value: "boss"}}
	g := scim.Group{DisplayName: "Office", ExternalID: "g1", Members: []scim.Member{{Value: "a"}, {Value: "b"}}}
	for _, c := range []struct {
		k kind
		v any
	}{{kindUser, u.WithSchemas()}, {kindGroup, g.WithSchemas()}, {kindGroup, scim.Group{DisplayName: "Empty"}.WithSchemas()}} {
		raw, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if !checkScanBody(t, st.table(c.k), st.names, raw) {
			t.Errorf("%s %s: not read by scanBody", c.k, raw)
		}
	}
}

// FuzzScanBody is TestScanBody on any body, as a user and as a group.
//
//	go test -run '^$' -fuzz FuzzScanBody ./target/netskope/netskopetest/
func FuzzScanBody(f *testing.F) {
	for _, tt := range scanBodyCases {
		f.Add([]byte(tt.body))
	}
	for _, tt := range validateCases {
		f.Add([]byte(tt.body))
	}
	st := newStore()
	f.Fuzz(func(t *testing.T, body []byte) {
		checkScanBody(t, st.users, st.names, body)
		checkScanBody(t, st.groups, st.names, body)
	})
}

// checkScanBody compares scanBody with decodeBody, fixActive,
// validateFast and prepare on body; it reports whether scanBody read it.
func checkScanBody(t *testing.T, tb *table, names map[string]string, body []byte) bool {
	t.Helper()
	got, ok := tb.scanBody(body, names)
	if !ok {
		return false
	}
	doc, err := decodeBody(body, names)
	if err != nil {
		t.Errorf("%s %s: scanBody read it, decodeBody: %v", tb.kind, body, err)
		return true
	}
	if tb.kind == kindUser {
		fixActive(doc)
	}
	attrs, fast := tb.validateFast(doc)
	if !fast {
		t.Errorf("%s %s: scanBody read it, validateFast did not", tb.kind, body)
		return true
	}
	want, err := tb.prepare(attrs)
	if err != nil {
		t.Errorf("%s %s: scanBody read it, prepare: %v", tb.kind, body, err)
		return true
	}
	if got.attrs.m != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%s %s:\nscanBody %+v\nwant     %+v", tb.kind, body, got, want)
	}
	return true
}
