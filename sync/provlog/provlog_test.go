package provlog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/logtest"
	"github.com/provsync/provsync/sync/provlog"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

var t0 = logtest.T0

// event returns the i-th event of a test: one a minute from t0.
func event(i int) sync.ChangeEvent { return logtest.Base(i) }

func open(t *testing.T, path string, opts ...provlog.Option) *provlog.Log {
	t.Helper()
	l, err := provlog.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func write(t *testing.T, l *provlog.Log, evs ...sync.ChangeEvent) {
	t.Helper()
	for _, ev := range evs {
		if err := l.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
}

func names(evs []provlog.Event) []string { return logtest.Names(evs) }

func TestRotation(t *testing.T) {
	for _, keep := range []int{0, 1, 3} {
		t.Run(fmt.Sprint("keep ", keep), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "prov.jsonl")
			const maxSize = 1000
			l := open(t, path, provlog.WithRotation(maxSize, keep))
			var want []string
			for i := range 100 {
				write(t, l, event(i))
				want = append(want, event(i).Name)
			}
			files, err := provlog.Files(path)
			if err != nil {
				t.Fatal(err)
			}
			wantFiles := []string{path}
			for i := 1; i <= keep; i++ {
				wantFiles = slices.Insert(wantFiles, 0, fmt.Sprintf("%s.%d", path, i))
			}
			if !slices.Equal(files, wantFiles) {
				t.Fatalf("files %v, want %v", files, wantFiles)
			}
			for _, f := range files {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() > maxSize || fi.Size() == 0 {
					t.Errorf("%s holds %d bytes, want 1 to %d", f, fi.Size(), maxSize)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
				}
			}
			got, err := l.Query(provlog.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			// The oldest events went with the dropped files; what is left
			// is the newest, in order.
			if len(got) == 0 || len(got) >= len(want) || !slices.Equal(names(got), want[len(want)-len(got):]) {
				t.Fatalf("read back %d events %v, want the newest of %d in order", len(got), names(got), len(want))
			}
		})
	}
}

func TestQueryFilters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prov.jsonl")
	l := open(t, path, provlog.WithRotation(700, 100)) // several files
	for i := range logtest.Events {
		write(t, l, logtest.Event(i))
	}
	for _, tt := range logtest.Cases() {
		t.Run(tt.Name, func(t *testing.T) {
			got, err := l.Query(tt.Filter)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.Names()
			if !slices.Equal(names(got), want) {
				t.Errorf("got %v, want %v", names(got), want)
			}
			// Reading the files without the Log gives the same.
			again, err := provlog.Query(path, tt.Filter)
			if err != nil || !slices.Equal(names(again), want) {
				t.Errorf("provlog.Query: %v %v, want %v", names(again), err, want)
			}
		})
	}
	if files, _ := provlog.Files(path); len(files) < 3 {
		t.Fatalf("the test wants the events spread over several files, got %v", files)
	}
}

func TestConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prov.jsonl")
	l := open(t, path, provlog.WithRotation(4000, 1000))
	const writers, each = 8, 150
	var wg gosync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.ChangeDone(event(w*each + i))
				if i%50 == 0 { // queries and flushes meanwhile
					if _, err := l.Query(provlog.Filter{Object: "s0"}); err != nil {
						t.Error(err)
					}
					l.CycleDone(sync.CycleReport{})
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	got, err := l.Query(provlog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range got {
		seen[e.SourceID]++
	}
	for i := range writers * each {
		if n := seen[event(i).SourceID]; n != 1 {
			t.Errorf("event %d read back %d times, want once", i, n)
		}
	}
	if len(got) != writers*each {
		t.Errorf("read %d events, want %d", len(got), writers*each)
	}
}

func TestCrashTruncatedLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prov.jsonl")
	l := open(t, path)
	write(t, l, event(0), event(1), event(2))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of the fourth write.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	cut := append(raw[:len(raw):len(raw)], lines[0][:len(lines[0])/2]...)
	if err := os.WriteFile(path, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := provlog.Query(path, provlog.Filter{})
	if err != nil {
		t.Fatalf("a cut-short last line: %v", err)
	}
	if want := []string{event(0).Name, event(1).Name, event(2).Name}; !slices.Equal(names(got), want) {
		t.Fatalf("got %v, want %v", names(got), want)
	}
	// Opened again, the log drops the cut line and the next event gets
	// a line of its own.
	l = open(t, path)
	write(t, l, event(3))
	got, err = l.Query(provlog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{event(0).Name, event(1).Name, event(2).Name, event(3).Name}; !slices.Equal(names(got), want) {
		t.Fatalf("after reopening: got %v, want %v", names(got), want)
	}
	// A bad line in the middle is no crash: it is reported.
	l.Close()
	raw, _ = os.ReadFile(path)
	bad := strings.Replace(string(raw), "\n", "\n{not json\n", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := provlog.Query(path, provlog.Filter{}); !errors.Is(err, provlog.ErrCorrupt) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a corrupt line in the middle: %v, want ErrCorrupt naming line 2", err)
	}
}

func TestValues(t *testing.T) {
	ev := event(1)
	ev.Attributes = []string{"title", "password", "urn:ietf:params:scim:schemas:extension:custom:2.0:User:apiToken"}
	ev.Changes = []sync.AttrChange{{Path: "title", Before: "Engineer", After: "Manager"},
		{Path: "password", Before: nil, After: "hunter2-secret-value"},
		{Path: "urn:ietf:params:scim:schemas:extension:custom:2.0:User:apiToken", After: "tok-secret-value"}}
	tests := []struct {
		name       string
		opts       []provlog.Option
		want, deny []string
	}{
		{"no values by default", nil, []string{`"title"`}, []string{"Engineer", "Manager", "hunter2", "tok-secret", `"values"`}},
		{"all values, credentials redacted", []provlog.Option{provlog.WithValues()},
			[]string{"Engineer", "Manager", provlog.Redacted}, []string{"hunter2", "tok-secret"}},
		{"named values only", []provlog.Option{provlog.WithValues("Title")}, []string{"Manager"}, []string{"hunter2", "tok-secret", provlog.Redacted}},
		{"a credential named is still redacted", []provlog.Option{provlog.WithValues("password")}, []string{provlog.Redacted}, []string{"hunter2", "Manager"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "prov.jsonl")
			l := open(t, path, tt.opts...)
			l.ChangeDone(ev)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(raw), w) {
					t.Errorf("the line lacks %q: %s", w, raw)
				}
			}
			for _, d := range tt.deny {
				if strings.Contains(string(raw), d) {
					t.Errorf("the line holds %q: %s", d, raw)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		path string
		opts []provlog.Option
		want string
	}{
		{"zero size", filepath.Join(dir, "a"), []provlog.Option{provlog.WithRotation(0, 1)}, "max size 0"},
		{"negative keep", filepath.Join(dir, "a"), []provlog.Option{provlog.WithRotation(10, -1)}, "keep -1"},
		{"nil logger", filepath.Join(dir, "a"), []provlog.Option{provlog.WithLogger(nil)}, "logger"},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "a"), nil, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := provlog.Open(tt.path, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open: %v, want an error saying %q", err, tt.want)
			}
			if l != nil {
				t.Fatal("Open returned a log with its error")
			}
		})
	}
	l := open(t, filepath.Join(dir, "b"))
	l.Close()
	if err := l.Write(event(0)); !errors.Is(err, provlog.ErrClosed) {
		t.Fatalf("write after Close: %v, want ErrClosed", err)
	}
}

// cycles tells of each cycle a Runner finishes.
type cycles chan sync.CycleReport

func (cycles) ChangeDone(sync.ChangeEvent)    {}
func (c cycles) CycleDone(r sync.CycleReport) { c <- r }

// TestRunnerWritesTheLog runs a Runner with the log as its observer: a
// cycle that creates, then one that updates.
func TestRunnerWritesTheLog(t *testing.T) {
	srv := netskopetest.NewServer()
	defer srv.Close()
	client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	user := func(id, name, family string) source.User {
		return source.User{ID: id, UserName: name + "@example.com", GivenName: name, FamilyName: family,
			State: source.StateActive, Emails: []source.Email{{Value: name + "@example.com", Primary: true}}}
	}
	src := file.FromDirectory(&source.Directory{Users: []source.User{user("u1", "ada", "Lovelace"), user("u2", "alan", "Turing")}})
	eng, err := sync.New(src, client)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prov.jsonl")
	l := open(t, path, provlog.WithValues())
	done := make(cycles, 1)
	r, err := sync.NewRunner(eng, sync.WithObserver(l), sync.WithObserver(done))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- r.Run(ctx) }()
	<-done
	src.Set(&source.Directory{Users: []source.User{user("u1", "ada", "King"), user("u2", "alan", "Turing")}})
	r.TriggerNow()
	<-done
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}

	created, err := l.Query(provlog.Filter{Object: "ADA@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 2 || created[0].Action != sync.ActionCreateUser || created[1].Action != sync.ActionUpdateUser {
		t.Fatalf("ada's events: %+v, want a create and an update", created)
	}
	up := created[1]
	if up.TargetID == "" || up.SourceID != "u1" || up.Outcome != sync.StatusApplied || up.Cycle == created[0].Cycle ||
		!slices.Contains(up.Attributes, "name.familyName") || len(up.Values) == 0 || !strings.Contains(fmt.Sprint(up.Values), "King") {
		t.Fatalf("update event %+v: want ids, applied, its own cycle, the family name and its value", up)
	}
	all, err := l.Query(provlog.Filter{Since: up.Time})
	if err != nil || len(all) != 1 {
		t.Fatalf("events since the update: %v %v, want the update only", names(all), err)
	}
}

// TestFiles: the rotated files are path.N exactly, whatever the name
// holds; other files beside them are not the log's.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prov[*?].jsonl")
	l := open(t, path, provlog.WithRotation(300, 5))
	for i := range 6 {
		write(t, l, event(i))
	}
	for _, decoy := range []string{"prov[*?].jsonl.bak", "prov[*?].jsonl.01", "prov[*?].jsonl.0", "prov[*?].jsonl.-1", "other.jsonl.1", "prov[*?].jsonl.1.gz"} {
		if err := os.WriteFile(filepath.Join(dir, decoy), []byte("{not json\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	files, err := provlog.Files(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 || files[len(files)-1] != path || files[len(files)-2] != path+".1" || files[0] != fmt.Sprintf("%s.%d", path, len(files)-1) {
		t.Fatalf("files %q, want path.N down to path.1, then path", files)
	}
	got, err := l.Query(provlog.Filter{})
	if err != nil {
		t.Fatalf("the decoys were read: %v", err)
	}
	if want := []string{event(0).Name, event(1).Name, event(2).Name, event(3).Name, event(4).Name, event(5).Name}; !slices.Equal(names(got), want) {
		t.Fatalf("got %v, want %v", names(got), want)
	}
	if files, err := provlog.Files(filepath.Join(dir, "no", "such", "log")); err != nil || len(files) != 0 {
		t.Fatalf("a log that does not exist: %q %v, want no files and no error", files, err)
	}
}

// API calls are events of kind KindAPI beside the changes: the Kind
// filter separates them, Object finds them by their id or user argument,
// and Outcome by accepted, refused or failed.
func TestCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prov.jsonl")
	l := open(t, path)
	write(t, l, event(0))
	calls := []struct {
		call    provlog.APICall
		outcome sync.Status
		err     error
	}{
		{provlog.APICall{Call: "approve", Args: map[string]string{"id": "a1"}, Remote: "127.0.0.1:5000"}, provlog.OutcomeAccepted, nil},
		{provlog.APICall{Call: "run", Remote: "127.0.0.1:5001"}, provlog.OutcomeRefused, errors.New("no token")},
		{provlog.APICall{Call: "provision", Args: map[string]string{"user": "ada@example.com"}}, sync.StatusFailed, errors.New("boom")},
	}
	for i, c := range calls {
		if err := l.Call(t0.Add(time.Duration(i+1)*time.Minute), c.call, c.outcome, c.err); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Call(t0, provlog.APICall{}, provlog.OutcomeAccepted, nil); err == nil {
		t.Error("a call without a name was written")
	}
	for _, tc := range []struct {
		name string
		f    provlog.Filter
		want []string // the calls, or the names of changes
	}{
		{"api", provlog.Filter{Kind: provlog.KindAPI}, []string{"approve", "run", "provision"}},
		{"users", provlog.Filter{Kind: sync.KindUser}, []string{"user0@example.com"}},
		{"by id", provlog.Filter{Object: "a1"}, []string{"approve"}},
		{"by user", provlog.Filter{Object: "ADA@example.com"}, []string{"provision"}},
		{"refused", provlog.Filter{Outcome: provlog.OutcomeRefused}, []string{"run"}},
		{"failed api", provlog.Filter{Kind: provlog.KindAPI, Outcome: sync.StatusFailed}, []string{"provision"}},
	} {
		evs, err := l.Query(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			if e.API != nil {
				got = append(got, e.API.Call)
			} else {
				got = append(got, e.Name)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	evs, err := l.Query(provlog.Filter{Kind: provlog.KindAPI})
	if err != nil {
		t.Fatal(err)
	}
	if e := evs[0]; e.API.Remote != "127.0.0.1:5000" || e.API.Args["id"] != "a1" || e.Error != "" || !e.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("approve event %+v %+v", e, e.API)
	}
	if e := evs[1]; e.Error != "no token" || e.Outcome != provlog.OutcomeRefused {
		t.Errorf("refused event %+v", e)
	}
}
