package netskopetest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// decodeBodyCases are bodies decodeBody must read as encoding/json does,
// and whether plainDecoder reads them itself.
var decodeBodyCases = []struct {
	body  string
	plain bool
}{
	{`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@example.com","externalId":"x","name":{"givenName":"A","familyName":"B"},"active":true,"emails":[{"value":"a@example.com","type":"work","primary":true}]}`, true},
	{" \t\r\n{ \"a\" : [ ] , \"b\" : { } , \"c\" : null , \"d\" : false }\n", true},
	{`{"a":"x","a":"y","A":"z"}`, true},
	{`{"esc":"\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00","bad":"\ud800","utf8":"é日本"}`, true},
	{"{\"invalid utf8\":\"\xff\xfe\",\"\xc3\":1}", false},
	{`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":"deep"}}}}}}}}}}`, false},
	{`{"a":{"b":{"c":{"d":{"e":{"f":{"g":"ok"}}}}}}}`, true},
	{"{\"utf8\":\"José 佐藤 \u2028\x7f\",\"mixed\":\"é\\n\",\"bad\":\"a\xffb\"}", true},
	{`{"n":1}`, false},
	{`{"n":-0.5e10}`, false},
	{`{"a":"b"} trailing garbage`, true},
	{`{"a":"b"}{"c":"d"}`, true},
	{`{}`, true},
	{`null`, false},
	{`[1,2]`, false},
	{`"str"`, false},
	{``, false},
	{`{`, false},
	{`{"a"}`, false},
	{`{"a":}`, false},
	{`{"a":"b",}`, false},
	{`{"a":["b",]}`, false},
	{`{"a":tru}`, false},
	{`{"a":truex}`, false},
	{`{"a":nul}`, false},
	{`{"a":"unterminated}`, false},
	{"{\"a\":\"control\x01char\"}", false},
	{"{\"a\":\"tab\tinside\"}", false},
	{`{"a":"bad escape \x"}`, false},
	{`{'a':'b'}`, false},
	{"\ufeff{\"a\":\"bom\"}", false},
	{`{"a" "b"}`, false},
	{`{"a":"b" "c":"d"}`, false},
	{`{"a":[true false]}`, false},
	{`{"userName":"a","user\"Name":"b","userName\u0041":"c","name":{"givenName":"x"}}`, true},
	{`{"userName":"a","userName`, false},
	{`{"userName`, false},
}

// TestDecodeBody checks that decodeBody gives what encoding/json's
// Decoder (with UseNumber, the first value only, as elimity decodes
// bodies) gives: the same value, or an error for the same bodies.
func TestDecodeBody(t *testing.T) {
	for _, tt := range decodeBodyCases {
		checkDecodeBody(t, []byte(tt.body))
		d := plainDecoder{b: []byte(tt.body)}
		d.space()
		if _, ok := d.object(0); ok != tt.plain {
			t.Errorf("%q: read by plainDecoder %v, want %v", tt.body, ok, tt.plain)
		}
	}
}

func checkDecodeBody(t *testing.T, body []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var want map[string]any
	wantErr := dec.Decode(&want)
	for _, names := range []map[string]string{nil, newStore().names} {
		got, err := decodeBody(body, names)
		if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("decodeBody(%q, %d names) = %#v, %v; encoding/json: %#v, %v", body, len(names), got, err, want, wantErr)
		}
	}
}

// FuzzDecodeBody compares decodeBody with encoding/json on any body.
//
//	go test -run '^$' -fuzz FuzzDecodeBody ./target/netskope/netskopetest/
func FuzzDecodeBody(f *testing.F) {
	for _, tt := range decodeBodyCases {
		f.Add([]byte(tt.body))
	}
	f.Fuzz(checkDecodeBody)
}

// TestStringEnd: where a string ends, and whether its value is its
// bytes (no escape, no control character, valid UTF-8).
func TestStringEnd(t *testing.T) {
	for _, tt := range []struct {
		in        string
		end       int
		plain, ok bool
	}{
		{`"abc"`, 5, true, true},
		{`"abc" tail`, 5, true, true},
		{`""`, 2, true, true},
		{`"José 佐藤"`, len(`"José 佐藤"`), true, true},
		{"\"del\x7f\"", 6, true, true},
		{`"a\"b"`, 6, false, true},
		{`"a\\"`, 5, false, true},
		{`"a\\" "b"`, 5, false, true},
		{"\"tab\t\"", 6, false, true},
		{"\"bad\xff\"", 6, false, true},
		{`"unterminated`, 0, false, false},
		{`"ends in escape\"`, 0, false, false},
		{`x"`, 0, false, false},
		{``, 0, false, false},
	} {
		end, plain, ok := stringEnd([]byte(tt.in), 0)
		if end != tt.end || plain != tt.plain || ok != tt.ok {
			t.Errorf("stringEnd(%q) = %d, %v, %v; want %d, %v, %v", tt.in, end, plain, ok, tt.end, tt.plain, tt.ok)
		}
	}
}
