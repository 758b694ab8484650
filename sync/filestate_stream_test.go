package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// streamSnapshot is a snapshot whose names need escaping, one of them the
// very text writeSnapshot looks for.
func streamSnapshot() *Snapshot {
	s := NewSnapshot()
	s.Version, s.Serial = stateVersion, 7
	s.Target = `tenant ` + linksHole + ` <&>`
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s.Users["u\"1"] = Link{TargetID: "t1", Origin: OriginCreated, Since: since, Source: "bench",
		Mirror: &Mirror{User: json.RawMessage(`{"userName":"a@example.com","active":true}`)}}
	s.Users["<u2>"] = Link{TargetID: "t2", Origin: OriginAdopted, Since: since, DeactivatedAt: since.Add(time.Hour)}
	s.Groups["g1"] = Link{TargetID: "tg1", Origin: OriginCreated, Since: since,
		Mirror: &Mirror{DisplayName: "Sales & Marketing", ExternalID: "g1", Members: "t1\nt2"}}
	s.Groups["g2"] = Link{TargetID: "tg2", Origin: OriginCreated, Since: since,
		Mirror: withMembers(&Mirror{DisplayName: "Packed"}, uuids(3))}
	s.Cursors[linksHole] = "c1"
	s.Intents = map[string]Intent{"user:u3": {Kind: KindUser, SourceID: "u3", Key: "c@example.com", Since: since}}
	s.TargetGroups = []string{"Everyone"}
	return s
}

// TestWriteSnapshotIsTheSnapshotJSON: the streamed snapshot file is the
// JSON json.Marshal makes of it, up to whitespace, whatever its names
// hold; with no links as well.
func TestWriteSnapshotIsTheSnapshotJSON(t *testing.T) {
	full := streamSnapshot()
	for name, s := range map[string]*Snapshot{"links": full, "none": {Version: stateVersion, Target: "t"}} {
		t.Run(name, func(t *testing.T) {
			sums := map[string]string{"entra": "ab"}
			var buf bytes.Buffer
			if err := writeSnapshot(&buf, s, sums); err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(fileSnapshot{Snapshot: s, DirectoryFiles: sums})
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := json.Compact(&got, buf.Bytes()); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, buf.Bytes())
			}
			if s.Users == nil { // marshalled as null by json.Marshal, {} here
				want = bytes.Replace(want, []byte(linksHole), []byte(`"users":{},"groups":{}`), 1)
			}
			if got.String() != string(want) {
				t.Fatalf("streamed\n%s\nwant\n%s", got.Bytes(), want)
			}
		})
	}
}

// TestFileStateStreamedSaveLoadsBack: a state saved by the streaming
// writer loads back as it was saved, by a FileState of its own, and the
// save counts the file's size (which decides when saves are appended).
// Packed member lists are written one id per line, as before, and read
// back packed.
func TestFileStateStreamedSaveLoadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	st := NewFileState(path)
	want := streamSnapshot()
	want.Serial = 1
	if err := st.Save(context.Background(), want.Clone()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.fileBytes != fi.Size() {
		t.Errorf("the save counted %d bytes, the file has %d", st.fileBytes, fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := json.Marshal(strings.Join(uuids(3), "\n")); !bytes.Contains(b, text) {
		t.Errorf("the file does not hold the packed members one per line, as states written before do:\n%s", b)
	}
	st.Close()
	st = NewFileState(path)
	defer st.Close()
	got, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A user's mirror, saved as JSON, is read back in the compact form.
	u := want.Users["u\"1"]
	u.Mirror = &Mirror{User: packJSONUser(u.Mirror.User)}
	want.Users["u\"1"] = u
	if !isPacked(u.Mirror.User) {
		t.Fatalf("the user mirror %s does not pack", u.Mirror.User)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %+v\nwant %+v", got, want)
	}
}
