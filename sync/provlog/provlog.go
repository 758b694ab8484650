// Package provlog is a durable provisioning log: a sync.Observer that
// writes each change a Runner applies as one line of JSON to a file,
// rotates the file by size, and answers queries by time range, object and
// outcome, as the provisioning logs of the hosted connectors do.
//
// An event holds the time, the cycle id, the action, the source and
// target ids, the user's userName or the group's displayName, the names
// of the attributes changed, the outcome, the error and the retry count.
// The program that runs the Runner can add the calls of its API that
// change something (approve, reject, run a cycle): Call writes an event
// of kind KindAPI with the call, its arguments, the caller's address and
// the outcome (OutcomeAccepted, OutcomeRefused or sync.StatusFailed).
//
// Attribute values are written only with WithValues, and even then the
// values of attributes named like a credential (password, secret, token)
// are redacted. The file is created with mode 0600: it names people.
//
// One Log, in one process, writes a file at a time (the state's lock sees
// to the process when the log sits beside the state); readers may run
// meanwhile.
package provlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"go.uber.org/zap"

	"github.com/provsync/provsync/sync"
)

// Defaults of a Log.
const (
	// DefaultMaxSize is the size at which the file is rotated.
	DefaultMaxSize = 10 << 20
	// DefaultKeep is how many rotated files are kept beside the current one.
	DefaultKeep = 5
	// Redacted replaces the value of an attribute named like a credential.
	Redacted = "[redacted]"
)

// Errors.
var (
	// ErrCorrupt matches a line in the middle of a log file that is not an
	// event. (A crash can leave the last line of the file being written
	// cut short; that line is skipped, not reported.)
	ErrCorrupt = errors.New("provlog: corrupt line")
	// ErrClosed is returned by writes to a closed Log.
	ErrClosed = errors.New("provlog: log is closed")
)

// Event is one line of the log: the change event, and the attribute
// values when the Log was opened WithValues; or, of kind KindAPI, an API
// call.
type Event struct {
	sync.ChangeEvent
	// Values are the attribute changes of an update with their values
	// (credentials redacted); empty unless the Log records values.
	Values []sync.AttrChange `json:"values,omitempty"`
	// API is the call of an event of kind KindAPI; nil otherwise.
	API *APICall `json:"api,omitempty"`
}

// KindAPI is the kind of an event that records an API call.
const KindAPI sync.Kind = "api"

// Outcomes of an API call; a call that was allowed but failed is
// sync.StatusFailed.
const (
	// OutcomeAccepted is a call that was allowed and did what it asked.
	OutcomeAccepted sync.Status = "accepted"
	// OutcomeRefused is a call refused before it did anything: no valid
	// credential, or a malformed request.
	OutcomeRefused sync.Status = "refused"
)

// APICall is what the log keeps of a call to a program's API that
// changes something. It holds no credential: never the request's headers.
type APICall struct {
	// Call names the call, such as "approve" or "run".
	Call string `json:"call"`
	// Args are the call's arguments, such as the approval id.
	Args map[string]string `json:"args,omitempty"`
	// Remote is the caller's address.
	Remote string `json:"remote,omitempty"`
}

// Call writes an API call made at t with its outcome (OutcomeAccepted,
// OutcomeRefused or sync.StatusFailed) and error, if any. The event's
// name is the call's "id" or "user" argument, so that Filter.Object finds
// the calls about one approval or user.
func (l *Log) Call(t time.Time, c APICall, outcome sync.Status, callErr error) error {
	e, err := CallEvent(t, c, outcome, callErr)
	if err != nil {
		return err
	}
	return l.append(e)
}

// CallEvent is the event Call writes of an API call: other stores of the
// log make their events with it.
func CallEvent(t time.Time, c APICall, outcome sync.Status, callErr error) (Event, error) {
	if c.Call == "" {
		return Event{}, errors.New("provlog: API call: call must not be empty")
	}
	e := Event{ChangeEvent: sync.ChangeEvent{Time: t, Kind: KindAPI, Outcome: outcome}, API: &c}
	e.Name = c.Args["id"]
	if e.Name == "" {
		e.Name = c.Args["user"]
	}
	if callErr != nil {
		e.Error = callErr.Error()
	}
	return e, nil
}

// Log is the provisioning log: a sync.Observer writing JSON Lines to a
// file with size-based rotation. It is safe for concurrent use. Create it
// with Open; Close it when done.
type Log struct {
	path    string
	maxSize int64
	keep    int
	format  Format
	log     *zap.Logger

	mu     gosync.Mutex // guards what follows
	f      *os.File     // nil after a failed rotation
	size   int64
	err    error // the last write error, cleared by a good write
	closed bool  // by Close
}

var _ sync.Observer = (*Log)(nil)

// Option sets an optional setting of a Log.
type Option func(*Log)

// WithRotation rotates the file once a write would take it past maxSize
// bytes, keeping keep rotated files (path.1 the newest) beside the
// current one; keep 0 keeps none. Defaults DefaultMaxSize and DefaultKeep.
func WithRotation(maxSize int64, keep int) Option {
	return func(l *Log) { l.maxSize, l.keep = maxSize, keep }
}

// WithValues records the attribute values of updates: of the attributes
// named, or of all when none is named. Values of attributes named like a
// credential are redacted whatever is asked.
func WithValues(attributes ...string) Option {
	return func(l *Log) {
		l.format.values = true
		if len(attributes) > 0 {
			l.format.only = map[string]bool{}
			for _, a := range attributes {
				l.format.only[strings.ToLower(a)] = true
			}
		}
	}
}

// Format makes the events a log keeps of a Runner's change events: the
// attribute values only as WithValues asks, those of credentials
// redacted. Its zero value keeps no values. Other stores of the log
// (such as sync/pgstate's) make their events with it.
type Format struct {
	values bool
	only   map[string]bool // with values: the attributes whose values are kept; nil for all
}

// NewFormat returns the Format the options ask for: WithValues; the
// other options are not about events and change nothing.
func NewFormat(opts ...Option) Format {
	var l Log
	for _, o := range opts {
		o(&l)
	}
	return l.format
}

// WithLogger sets the logger for write errors, which the Observer
// methods cannot return. Default: a no-op logger.
func WithLogger(log *zap.Logger) Option { return func(l *Log) { l.log = log } }

// Open opens the log at path for appending, creating it if need be. A
// last line a crash cut short is dropped first, so that the next event
// starts a line of its own.
func Open(path string, opts ...Option) (*Log, error) {
	l := &Log{path: path, maxSize: DefaultMaxSize, keep: DefaultKeep, log: zap.NewNop()}
	for _, o := range opts {
		o(l)
	}
	switch {
	case l.maxSize <= 0:
		return nil, fmt.Errorf("provlog: max size %d: want a positive size", l.maxSize)
	case l.keep < 0:
		return nil, fmt.Errorf("provlog: keep %d rotated files: want 0 or more", l.keep)
	case l.log == nil:
		return nil, errors.New("provlog: logger must not be nil")
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// open opens the current file, dropping a cut-short last line.
func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("provlog: open: %w", err)
	}
	size, err := completeSize(f)
	if err == nil {
		err = f.Truncate(size)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("provlog: open %s: %w", l.path, err)
	}
	l.f, l.size = f, size
	return nil
}

// completeSize returns the size of f up to and including its last
// newline: what is left when a cut-short last line is dropped.
func completeSize(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := fi.Size()
	buf := make([]byte, 4096)
	for end > 0 {
		n := min(end, int64(len(buf)))
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// ChangeDone writes the event. A write error is logged and kept for Err;
// the Runner goes on.
func (l *Log) ChangeDone(ev sync.ChangeEvent) {
	if err := l.Write(ev); err != nil {
		l.log.Warn("provisioning log: event not written", zap.String("cycle", ev.Cycle),
			zap.String("action", string(ev.Action)), zap.Error(err))
	}
}

// CycleDone flushes the file to stable storage.
func (l *Log) CycleDone(rep sync.CycleReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.f == nil {
		return
	}
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("provlog: sync %s: %w", l.path, err)
		l.log.Warn("provisioning log: not flushed", zap.String("cycle", rep.ID), zap.Error(err))
	}
}

// Err returns the error of the last write if it failed, nil otherwise.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Write appends the event as one line, rotating the file first when the
// line would take it past the maximum size.
func (l *Log) Write(ev sync.ChangeEvent) error { return l.append(l.format.Event(ev)) }

// append writes one event as a line.
func (l *Log) append(ev Event) error {
	line, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("provlog: event of %s %s: %w", ev.Action, ev.Name, err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.f == nil { // a rotation failed
		if err := l.open(); err != nil {
			l.err = err
			return err
		}
	}
	if l.size > 0 && l.size+int64(len(line)) > l.maxSize {
		if err := l.rotate(); err != nil {
			l.err = err
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		l.err = fmt.Errorf("provlog: write %s: %w", l.path, err)
		return l.err
	}
	l.err = nil
	return nil
}

// Event makes the event of ev, with the values f records.
func (f Format) Event(ev sync.ChangeEvent) Event {
	e := Event{ChangeEvent: ev}
	e.Changes = nil
	if !f.values {
		return e
	}
	for _, c := range ev.Changes {
		if f.only != nil && !f.only[strings.ToLower(c.Path)] {
			continue
		}
		if secretAttribute(c.Path) {
			c.Before, c.After = redact(c.Before), redact(c.After)
		}
		e.Values = append(e.Values, c)
	}
	return e
}

// secretAttribute reports whether an attribute path names a credential.
func secretAttribute(path string) bool {
	p := strings.ToLower(path)
	return strings.Contains(p, "password") || strings.Contains(p, "secret") || strings.Contains(p, "token")
}

func redact(v any) any {
	if v == nil {
		return nil
	}
	return Redacted
}

// rotate moves the current file to path.1 (and path.i to path.i+1,
// dropping the oldest) and starts a new one. On an error the Log has no
// file open, and the next write opens path again. The caller holds l.mu.
func (l *Log) rotate() error {
	err := l.f.Close()
	l.f = nil
	if err == nil {
		if err = os.Remove(l.rotated(l.keep)); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	for i := l.keep - 1; i >= 1 && err == nil; i-- {
		if err = os.Rename(l.rotated(i), l.rotated(i+1)); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	if err == nil && l.keep > 0 {
		err = os.Rename(l.path, l.rotated(1))
	}
	if err != nil {
		return fmt.Errorf("provlog: rotate %s: %w", l.path, err)
	}
	return l.open()
}

// rotated is the name of the i-th rotated file; the 0th is the current
// file, which is removed, not renamed, when none are kept.
func (l *Log) rotated(i int) string {
	if i == 0 {
		return l.path
	}
	return l.path + "." + strconv.Itoa(i)
}

// Close closes the file; later writes fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.f == nil {
		return nil
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("provlog: close %s: %w", l.path, err)
	}
	return nil
}

// Filter selects events. Its zero value selects all.
type Filter struct {
	// Since and Until bound the events' times: at or after Since, before
	// Until. A zero time leaves that end open.
	Since, Until time.Time
	// Object selects the events of one object: its source id, its target
	// id, or its name (userName or displayName, in any case).
	Object string
	// Outcome selects events by outcome, e.g. sync.StatusFailed.
	Outcome sync.Status
	// Cycle selects the events of one cycle.
	Cycle string
	// Action selects events by action, e.g. sync.ActionCreateUser.
	Action sync.Action
	// Kind selects events by kind: sync.KindUser, sync.KindGroup or
	// KindAPI.
	Kind sync.Kind
}

// Match reports whether e passes the filter.
func (f Filter) Match(e *Event) bool {
	switch {
	case !f.Since.IsZero() && e.Time.Before(f.Since),
		!f.Until.IsZero() && !e.Time.Before(f.Until),
		f.Outcome != "" && e.Outcome != f.Outcome,
		f.Action != "" && e.Action != f.Action,
		f.Kind != "" && e.Kind != f.Kind,
		f.Cycle != "" && e.Cycle != f.Cycle:
		return false
	}
	return f.Object == "" || e.SourceID == f.Object || e.TargetID == f.Object || strings.EqualFold(e.Name, f.Object)
}

// Query returns the log's events that pass f, oldest first. It holds
// writes back while it reads, so that no rotation moves a file under it.
func (l *Log) Query(f Filter) ([]Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Query(l.path, f)
}

// Query reads the log at path (the current file and the rotated ones,
// path.N to path.1, then path) and returns the events that pass f, oldest
// first. A missing log has no events. Read an open Log with its own
// Query method, which keeps rotations out of the way.
func Query(path string, f Filter) ([]Event, error) {
	files, err := Files(path)
	if err != nil {
		return nil, err
	}
	var out []Event
	for _, name := range files {
		if out, err = readFile(name, f, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Files returns the files of the log at path that exist, oldest first:
// the rotated ones from the highest number down, then path itself.
func Files(path string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("provlog: list %s: %w", path, err)
	}
	type numbered struct {
		name string
		n    int
	}
	var rot []numbered
	prefix := filepath.Base(path) + "."
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || e.IsDir() {
			continue
		}
		if n, err := strconv.Atoi(suffix); err == nil && n > 0 && strconv.Itoa(n) == suffix {
			rot = append(rot, numbered{path + "." + suffix, n})
		}
	}
	slices.SortFunc(rot, func(a, b numbered) int { return b.n - a.n })
	var files []string
	for _, r := range rot {
		files = append(files, r.name)
	}
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("provlog: %w", err)
	}
	return files, nil
}

// readFile appends the events of one file that pass f to out.
func readFile(name string, f Filter, out []Event) ([]Event, error) {
	file, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) { // rotated away by another process
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("provlog: %w", err)
	}
	defer file.Close()
	r := bufio.NewReader(file)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return out, fmt.Errorf("provlog: read %s: %w", name, err)
		}
		last := err != nil // no newline: the end of the file
		if len(bytes.TrimSpace(line)) > 0 {
			var e Event
			if jerr := json.Unmarshal(line, &e); jerr != nil {
				if last { // a crash cut the line short
					return out, nil
				}
				return out, fmt.Errorf("%w: %s line %d: %v", ErrCorrupt, name, n, jerr)
			}
			if f.Match(&e) {
				out = append(out, e)
			}
		}
		if last {
			return out, nil
		}
	}
}
