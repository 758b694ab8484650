package sync

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/scim"
)

// encoderLines is what the journal held before appendRecord: one
// json.Encoder line per record.
func encoderLines(recs []Record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func TestAppendRecordMatchesEncoder(t *testing.T) {
	since := time.Date(2026, 12, 1, 19, 53, 16, 123456789, time.UTC)
	east := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5*3600+30*60))
	west := time.Date(1999, 12, 31, 23, 59, 59, 1000, time.FixedZone("X", -(23*3600+59*60)))
	u := scim.User{UserName: `a"<b>&c@example.com`, ExternalID: "ext\u2028", Active: scim.Bool(true),
		Name: &scim.Name{GivenName: "Zoë", FamilyName: "\x01\t"}, Emails: []scim.Email{{Value: "a@example.com", Primary: true}}}
	mirror := userMirror(&u)
	indented, _ := json.MarshalIndent(&u, "", "  ")
	weird := "sp ace\n\"quote\"\\<tag>&\xff"
	cases := map[string]Record{
		"link, created, mirror": {Op: OpLink, Kind: KindUser, SourceID: "u1",
			Link: &Link{TargetID: "t1", Origin: OriginCreated, Since: since, Source: "entra", Mirror: mirror}},
		"link, adopted, no source, no mirror": {Op: OpLink, Kind: KindUser, SourceID: "u2",
			Link: &Link{TargetID: "t2", Origin: OriginAdopted, Since: east}},
		"link, deactivated": {Op: OpLink, Kind: KindUser, SourceID: weird,
			Link: &Link{TargetID: weird, Origin: Origin(weird), Source: weird, Since: since, DeactivatedAt: west}},
		"link, zero times":   {Op: OpLink, Kind: KindGroup, SourceID: "g", Link: &Link{}},
		"link, empty mirror": {Op: OpLink, Kind: KindGroup, SourceID: "g", Link: &Link{TargetID: "x", Mirror: &Mirror{}}},
		"link, group mirror": {Op: OpLink, Kind: KindGroup, SourceID: "g", Link: &Link{TargetID: "x", Since: since, Mirror: &Mirror{DisplayName: weird, ExternalID: "e", Members: "1\n2\n3"}}},
		"link, packed members": {Op: OpLink, Kind: KindGroup, SourceID: "g", Link: &Link{TargetID: "x", Since: since,
			Mirror: &Mirror{DisplayName: "d", Members: packMembers("0b8d9d3e-4b8a-4c55-9d43-1f2e3a4b5c6d\n8f14e45f-ceea-467f-a0e6-1b2c3d4e5f60")}}},
		"link, indented user JSON": {Op: OpLink, Kind: KindUser, SourceID: "u", Link: &Link{TargetID: "x", Since: since, Mirror: &Mirror{User: indented}}},
		"unlink":                   {Op: OpUnlink, Kind: KindUser, SourceID: "u3"},
		"settle":                   {Op: OpSettle, Kind: KindGroup, SourceID: ""},
		"intent, full": {Op: OpIntent, Kind: KindUser, SourceID: "u4",
			Intent: &Intent{Kind: KindUser, SourceID: "u4", Key: weird, ExternalID: "e4", Source: "google", Since: east}},
		"intent, bare":                 {Op: OpIntent, Kind: KindGroup, SourceID: "g5", Intent: &Intent{}},
		"mirror, unknown":              {Op: OpMirror, Kind: KindUser, SourceID: "u6"},
		"mirror, user":                 {Op: OpMirror, Kind: KindUser, SourceID: "u6", Mirror: mirror},
		"mirror, empty":                {Op: OpMirror, Kind: KindUser, SourceID: "u6", Mirror: &Mirror{}},
		"unknown op and kind":          {Op: "what", Kind: "else", SourceID: "x"},
		"link and intent":              {Op: OpLink, Kind: KindUser, SourceID: "u7", Link: &Link{TargetID: "t"}, Intent: &Intent{Key: "k"}, Mirror: &Mirror{Members: "m"}},
		"year 10000 (an error)":        {Op: OpLink, Kind: KindUser, SourceID: "u8", Link: &Link{Since: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		"year -1 (an error)":           {Op: OpIntent, Kind: KindUser, SourceID: "u9", Intent: &Intent{Since: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		"offset 24h (an error)":        {Op: OpLink, Kind: KindUser, SourceID: "u10", Link: &Link{Since: since, DeactivatedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))}},
		"invalid user JSON (an error)": {Op: OpMirror, Kind: KindUser, SourceID: "u11", Mirror: &Mirror{User: json.RawMessage(`{"userName":`)}},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			recs := []Record{r, {Op: OpUnlink, Kind: KindUser, SourceID: "after"}}
			want, wantErr := encoderLines(recs)
			got, err := encodeRecords(recs, true)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, encoding/json's %v", err, wantErr)
			}
			if err != nil {
				if !strings.Contains(name, "an error") {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if string(got) != string(want) {
				t.Errorf("journal lines\n%s\nwant (json.Encoder)\n%s", got, want)
			}
			var back Record
			if err := json.Unmarshal(got[:bytes.IndexByte(got, '\n')], &back); err != nil {
				t.Fatalf("line does not decode: %v", err)
			}
		})
	}
}

// BenchmarkRecordLine compares the journal line of a created user's link
// made by appendRecord with json.Encoder's:
//
//	go test ./sync -run X -bench RecordLine -benchmem
func BenchmarkRecordLine(b *testing.B) {
	u := scim.User{UserName: "ada.lovelace@example.com", ExternalID: "00u1a2b3c4d5e6f7g8h9",
		Name: &scim.Name{GivenName: "Ada", FamilyName: "Lovelace"}, DisplayName: "Ada Lovelace", Active: scim.Bool(true),
		Emails:     []scim.Email{{Value: "ada.lovelace@example.com", Type: "work", Primary: true}},
		Enterprise: &scim.EnterpriseUser{Department: "Engineering", EmployeeNumber: "10042", Manager: &scim.Manager{Value: "m1"}}}
	recs := []Record{{Op: OpLink, Kind: KindUser, SourceID: "00u1a2b3c4d5e6f7g8h9",
		Link: &Link{TargetID: "8f14e45f-ceea-467f-a0e6-1b2c3d4e5f60", Origin: OriginCreated, Source: "entra", Since: time.Now(), Mirror: userMirror(&u)}}}
	b.Run("appendRecord", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeRecords(recs, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Encoder", func(b *testing.B) {
		for b.Loop() {
			if _, err := encoderLines(recs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRecordRefusesInvalidMirrorJSON: a caller's record whose mirror is
// not JSON is refused, as encoding/json refused it, and leaves the
// journal readable.
func TestRecordRefusesInvalidMirrorJSON(t *testing.T) {
	path := t.TempDir() + "/state.json"
	st := NewFileState(path)
	defer st.Close()
	bad := Record{Op: OpLink, Kind: KindUser, SourceID: "u", Link: &Link{TargetID: "t", Mirror: &Mirror{User: json.RawMessage(`{"userName":"a"`)}}}
	if err := st.Record(t.Context(), bad); err == nil {
		t.Fatal("Record of a mirror that is not JSON succeeded")
	}
	good := Record{Op: OpLink, Kind: KindUser, SourceID: "v", Link: &Link{TargetID: "tv", Mirror: &Mirror{User: json.RawMessage(`{"userName":"v"}`)}}}
	if err := st.Record(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = NewFileState(path)
	s, err := st.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Users) != 1 || s.Users["v"].TargetID != "tv" || string(s.Users["v"].Mirror.UserJSON()) != `{"userName":"v"}` {
		t.Errorf("state after the refused record: %+v", s.Users)
	}
}

// TestSaveRefusesInvalidMirrorJSON: a caller's snapshot whose mirror is
// not JSON is not saved, as encoding/json refused it, and the saved state
// stays as it was.
func TestSaveRefusesInvalidMirrorJSON(t *testing.T) {
	path := t.TempDir() + "/state.json"
	st := NewFileState(path)
	defer st.Close()
	s, err := st.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.Serial++
	s.Users["ok"] = Link{TargetID: "t", Mirror: &Mirror{User: json.RawMessage(`{"userName":"ok"}`)}}
	if err := st.Save(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	s.Serial++
	s.Users["bad"] = Link{TargetID: "b", Mirror: &Mirror{User: json.RawMessage(`{"userName":`)}}
	if err := st.Save(t.Context(), s); err == nil {
		t.Fatal("Save of a mirror that is not JSON succeeded")
	}
	st.Close()
	st = NewFileState(path)
	got, err := st.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != 1 || len(got.Users) != 1 {
		t.Errorf("after the refused save: serial %d, links %v; want serial 1 and one link", got.Serial, got.Users)
	}
}
