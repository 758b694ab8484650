package netskope

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

// TestFastDecodeKnowsEveryField: the attribute lists of the reader hold
// every json name of the scim types it fills, so that a field added to
// one is not skipped by listings.
func TestFastDecodeKnowsEveryField(t *testing.T) {
	tests := []struct {
		v     any
		names []string
	}{
		{scim.User{}, userNames}, {scim.Group{}, groupNames}, {scim.Name{}, nameNames},
		{scim.Email{}, multiNames}, {scim.PhoneNumber{}, multiNames}, {scim.Address{}, addressNames},
		{scim.GroupRef{}, refNames}, {scim.Member{}, refNames}, {scim.EnterpriseUser{}, enterpriseNames},
		{scim.Manager{}, managerNames}, {scim.Meta{}, metaNames},
	}
	for _, tt := range tests {
		typ := reflect.TypeOf(tt.v)
		var names []string
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			names = append(names, name)
		}
		slices.Sort(names)
		want := slices.Sorted(slices.Values(tt.names))
		if !slices.Equal(names, want) {
			t.Errorf("%s: json names %v, the reader knows %v", typ, names, want)
		}
	}
}

// decodeBoth decodes b as encoding/json does into scim.User (through
// its UnmarshalJSON) and as a listing does (userElem), and reports a
// difference in the result or the error.
func decodeBoth[T any](t *testing.T, b []byte, elem func(*T) json.Unmarshaler) (fast bool) {
	t.Helper()
	var want, got T
	errW := json.Unmarshal(b, &want)
	errG := json.Unmarshal(b, elem(&got))
	switch {
	case (errW == nil) != (errG == nil):
		t.Errorf("%s: encoding/json: %v; listing: %v", b, errW, errG)
	case errW != nil:
		if errW.Error() != errG.Error() {
			t.Errorf("%s: encoding/json: %v; listing: %v", b, errW, errG)
		}
	case !reflect.DeepEqual(want, got):
		t.Errorf("%s:\nencoding/json %+v\nlisting       %+v", b, want, got)
	}
	var probe T
	switch p := any(&probe).(type) {
	case *scim.User:
		return fastUser(b, p)
	case *scim.Group:
		return fastGroup(b, p)
	}
	return false
}

func userElemOf(u *scim.User) json.Unmarshaler   { return &userElem{u} }
func groupElemOf(g *scim.Group) json.Unmarshaler { return &groupElem{g} }

// TestFastDecodeMatchesEncodingJSON decodes users and groups in the forms
// a server sends and in odd ones: the listing's result and error are
// encoding/json's, and the common forms take the reader's path.
func TestFastDecodeMatchesEncodingJSON(t *testing.T) {
	users := []struct {
		json string
		fast bool // the reader decodes it, without encoding/json
	}{
		{`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"0f6c","externalId":"src-1","userName":"a@example.com",` +
			`"name":{"givenName":"A","familyName":"B","formatted":"A B","middleName":"M","honorificPrefix":"Dr","honorificSuffix":"III"},` +
			`"displayName":"A B","nickName":"ab","profileUrl":"https://x/a","title":"Engineer","userType":"Employee",` +
			`"preferredLanguage":"de","locale":"de-DE","timezone":"Europe/Berlin","active":true,` +
			`"emails":[{"value":"a@example.com","type":"work","primary":true},{"value":"a2@example.com","display":"A"}],` +
			`"phoneNumbers":[{"value":"+49 1","type":"mobile","primary":false}],` +
			`"addresses":[{"formatted":"F","streetAddress":"S 1","locality":"L","region":"R","postalCode":"P","country":"DE","type":"work","primary":true}],` +
			`"groups":[{"value":"g1","$ref":"https://x/Groups/g1","display":"G","type":"direct"}],` +
			`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7","costCenter":"C","organization":"O",` +
			`"division":"D","department":"R&D","manager":{"value":"m1","$ref":"https://x/Users/m1","displayName":"Boss"}},` +
			`"meta":{"resourceType":"User","created":"2025-01-01T00:00:00Z","lastModified":"2025-01-02T00:00:00Z","location":"https://x/Users/0f6c","version":"W/\"1\""}}`,
			true},
		{` { "id" : "u1" , "userName" : "b" , "active" : false , "emails" : [ ] , "schemas" : [ ] } `, true},
		{`{"id":"u1","userName":"José Müller","displayName":"日本語","title":"\u00e9t\u00e9 \"q\" \\ \/ \n"}`, true},
		{`{"id":"u1","userName":"x","x-vendor":{"a":[1,2.5e3,{"b":null,"c":"]}"}],"d":true},"y":null,"z":-0.5}`, true},
		{`{"id":"u1","userName":"a\u0026b \u00E9 \b\f\r\t \u0000","displayName":"\ud83d\ude00 \ud800 \udc00x"}`, true},
		{`{}`, true},
		{`{"id":"u1","userName":"a","active":"True"}`, false},
		{`{"id":"u1","userName":"a","active":"maybe"}`, false},
		{`{"id":"u1","userName":"a","active":null}`, false},
		{`{"id":"u1","UserName":"a"}`, false},
		{`{"id":"u1","userName":"a","userName":"b"}`, false},
		{`{"id":"u1","emails":[{"value":"a"}],"emails":[{"type":"work"}]}`, false},
		{`{"id":"u1","userName":5}`, false},
		{`{"id":"u1","emails":"a@example.com"}`, false},
		{`{"id":"u1","emails":[{"value":"a","primary":"true"}]}`, false},
		{`{"id":"u1","emails":[null,{"value":"a"}]}`, false},
		{`{"id":"u1","name":null}`, false},
		{`{"id":"u1","schemas":null}`, false},
		{"{\"id\":\"u1\",\"userName\":\"bad \xff utf8\"}", true},
		{`{"id":"u1","\u0075serName":"a"}`, false},
		{`{"id":"u1","urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":{"department":"x"}}`, false},
		{`{"id":"u1","meta":{"resourceType":"User","Location":"x"}}`, false},
		{`"u1"`, false},
		{`[{"id":"u1"}]`, false},
		{`null`, false},
	}
	for _, tt := range users {
		if fast := decodeBoth(t, []byte(tt.json), userElemOf); fast != tt.fast {
			t.Errorf("%s: decoded by the reader %v, want %v", tt.json, fast, tt.fast)
		}
	}
	groups := []struct {
		json string
		fast bool
	}{
		{`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","externalId":"e","displayName":"G",` +
			`"members":[{"value":"u1","display":"A","$ref":"https://x/Users/u1","type":"User"},{"value":"u2"}],` +
			`"meta":{"resourceType":"Group","created":"c","lastModified":"l","location":"https://x/Groups/g1","version":"v"}}`, true},
		{`{"id":"g1","displayName":"G","members":[]}`, true},
		{`{"id":"g1","displayName":"G"}`, true},
		{`{"id":"g1","displayName":"G","members":null}`, false},
		{`{"id":"g1","displayName":"G","Members":[{"value":"u1"}]}`, false},
		{`{"id":"g1","members":[{"value":"u1"}],"members":[{"display":"x"}]}`, false},
		{`{"id":"g1","members":[{"value":1}]}`, false},
		{`{"id":"g1","members":[{"value":"u1","value":"u2"}]}`, false},
	}
	for _, tt := range groups {
		if fast := decodeBoth(t, []byte(tt.json), groupElemOf); fast != tt.fast {
			t.Errorf("%s: decoded by the reader %v, want %v", tt.json, fast, tt.fast)
		}
	}
}

// FuzzFastDecode checks that a listing decodes any JSON value as a user
// and as a group exactly as encoding/json does.
//
//	go test -run '^$' -fuzz FuzzFastDecode ./target/netskope/
func FuzzFastDecode(f *testing.F) {
	f.Add([]byte(`{"id":"u1","userName":"a","active":"true","emails":[{"value":"x","primary":true}],"name":{"givenName":"G"}}`))
	f.Add([]byte(`{"id":"g1","displayName":"G","members":[{"value":"u1","display":"A"}],"meta":{"version":"W/\"1\""}}`))
	f.Add([]byte(`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}},"x":[{"y":"}"}]}`))
	f.Add([]byte(`{"id":"\ud83d\ude00","userName":"\u00e9","displayName":"a\tb"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return // a listing's elements are checked by the json.Decoder first
		}
		decodeBoth(t, b, userElemOf)
		decodeBoth(t, b, groupElemOf)
	})
}
