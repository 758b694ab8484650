package netskopetest

import (
	"reflect"
	"strings"
	"testing"
)

const entURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// validateCases are user and group bodies for TestValidateMatchesElimity,
// and whether validateFast answers them itself (the shapes a sync sends
// must not go to elimity).
var validateCases = []struct {
	kind kind
	body string
	fast bool
}{
	// What the engine sends.
	{kindUser, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"7496ad38","userName":"hanako.sato@example.com","name":{"familyName":"佐藤","givenName":"花子"},"displayName":"花子 佐藤","active":true,"emails":[{"value":"hanako.sato@example.com","type":"work","primary":true}]}`, true},
	{kindUser, `{"userName":"ent@example.com","title":"Engineer","` + entURN + `":{"department":"Eng","employeeNumber":"42","manager":{"value":"boss-id"}}}`, true},
	{kindGroup, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"g1","displayName":"São Paulo Office","members":[{"value":"a"},{"value":"b"}]}`, true},
	{kindGroup, `{"displayName":"Empty"}`, true},
	// Accepted by elimity, but with a result that differs from the body.
	{kindUser, `{"userName":"a","id":"mine","groups":[{"value":"g"}],"meta":{"created":"x"}}`, true},
	{kindUser, `{"userName":"a","nickName":null,"emails":[]}`, true},
	{kindUser, `{"userName":"a","unknown":"x","schemas":["s"],"urn:other:ext":{"a":"b"}}`, true},
	{kindUser, `{"userName":"a","` + entURN + `":{}}`, true},
	{kindUser, `{"userName":"a","` + entURN + `":null}`, true},
	{kindUser, `{"USERNAME":"a"}`, false},
	{kindUser, `{"userName":"a","UserName":"b"}`, false},
	{kindUser, `{"userName":"a","DisplayName":"b"}`, false},
	{kindUser, `{"userName":"a","uſerName":"b"}`, false},
	{kindUser, `{"userName":"a","émails":"b"}`, false},
	{kindUser, `{"userName":"a","name":{"GIVENNAME":"x"}}`, false},
	{kindUser, `{"userName":"a","name":{"givenName":"x","other":"y"}}`, false},
	{kindUser, `{"userName":"a","name":{"givenName":null}}`, false},
	{kindUser, `{"userName":"a","emails":{"value":"single@example.com"}}`, false},
	{kindUser, `{"userName":"a","emails":[{"value":"x","display":"d"}]}`, true},
	{kindUser, `{"userName":"a","emails":[{"value":"x","$ref":"no such sub-attribute"}]}`, false},
	{kindUser, `{"userName":"a","` + entURN + `":{"manager":{"value":"m","displayName":"read-only"}}}`, false},
	{kindUser, `{"userName":"a","` + entURN + `":{"Department":"x"}}`, false},
	{kindUser, `{"userName":"a","x509Certificates":[{"value":"bad base64"}]}`, false},
	{kindUser, `{"userName":"a","x509Certificates":[{"value":"QUJD"}]}`, false},
	{kindUser, `{"userName":"a","password":"secret"}`, true},
	{kindGroup, `{"displayName":"g","members":[{"value":"a","display":"x"}]}`, true},
	{kindGroup, `{"displayName":"g","members":[{"display":"x"}]}`, true}, // refused by prepare
	{kindGroup, `{"displayName":"g","members":{"value":"a"}}`, false},
	{kindGroup, `{"displayName":"g","members":[]}`, true},
	// Refused by elimity.
	{kindUser, `{"displayName":"no userName"}`, false},
	{kindUser, `{"userName":null}`, false},
	{kindUser, `{"userName":5}`, false},
	{kindUser, `{"userName":"a","active":"true"}`, false},
	{kindUser, `{"userName":"a","emails":"nope"}`, false},
	{kindUser, `{"userName":"a","emails":["nope"]}`, false},
	{kindUser, `{"userName":"a","name":"nope"}`, false},
	{kindUser, `{"userName":"a","` + entURN + `":"nope"}`, false},
	{kindUser, `{"userName":"a","` + entURN + `":{"department":1}}`, false},
	{kindGroup, `{"externalId":"no name"}`, false},
	{kindGroup, `{"displayName":"g","members":[{"value":1}]}`, false},
}

// TestValidateMatchesElimity checks that validate gives what elimity's
// validation gives (the same attributes, or an error for the same
// bodies), and that validateFast answers the bodies a sync sends.
func TestValidateMatchesElimity(t *testing.T) {
	st := newStore()
	for _, tt := range validateCases {
		checkValidate(t, st.table(tt.kind), st.names, []byte(tt.body))
		doc, err := decodeBody([]byte(tt.body), st.names)
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if _, ok := st.table(tt.kind).validateFast(doc); ok != tt.fast {
			t.Errorf("%s %s: validated without elimity %v, want %v", tt.kind, tt.body, ok, tt.fast)
		}
	}
}

// checkValidate compares validate with validateElimity on body, each on
// its own decoding of it.
func checkValidate(t *testing.T, tb *table, names map[string]string, body []byte) {
	t.Helper()
	doc, err := decodeBody(body, nil)
	if err != nil {
		return
	}
	want, wantErr := tb.validateElimity(doc)
	doc, _ = decodeBody(body, names)
	got, err := tb.validate(doc)
	if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(got, want) || err != nil && err.Error() != wantErr.Error() {
		t.Errorf("%s %s: validate = %#v, %v; elimity: %#v, %v", tb.kind, body, got, err, want, wantErr)
	}
}

// FuzzValidate compares validate with elimity's validation on any body,
// as a user and as a group.
//
//	go test -run '^$' -fuzz FuzzValidate ./target/netskope/netskopetest/
func FuzzValidate(f *testing.F) {
	for _, tt := range validateCases {
		f.Add([]byte(tt.body))
	}
	st := newStore()
	f.Fuzz(func(t *testing.T, body []byte) {
		checkValidate(t, st.users, st.names, body)
		checkValidate(t, st.groups, st.names, body)
	})
}

// TestKeyOf: every id newID makes has its key, and no other string (an
// id in upper case, with a character changed or moved) has one, so the
// index finds ids exactly as a map of the strings did.
func TestKeyOf(t *testing.T) {
	for i := 0; i < 1000; i++ {
		id, key := newID()
		if got, ok := keyOf(id); !ok || got != key {
			t.Fatalf("keyOf(%q) = %x, %v; want %x", id, got, ok, key)
		}
	}
	id, _ := newID()
	for _, bad := range []string{
		"", "nobody", id[:35], id + "0", strings.ToUpper(id), "g" + id[1:],
		id[:8] + "0" + id[9:], id[:7] + "-" + id[8:], " " + id[1:], id[:35] + "\x00",
	} {
		if _, ok := keyOf(bad); ok && bad != id {
			t.Errorf("keyOf(%q) accepted it", bad)
		}
	}
}
