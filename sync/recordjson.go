package sync

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/provsync/provsync/scim"
)

// errRecordJSON: a record the append encoder leaves to encoding/json (a
// time outside the years 0 to 9999, which encoding/json refuses).
var errRecordJSON = errors.New("record needs encoding/json")

// appendRecord appends r's journal line, newline included: the JSON
// encoding/json's Encoder writes for r, without reflection. A mirror's
// user JSON is copied as it is, compacted if it holds a line break; with
// validate, it is first checked to be JSON (a caller's record: the
// engine's own mirrors are valid by construction).
func appendRecord(b []byte, r *Record, validate bool) ([]byte, error) {
	start := len(b)
	b = append(b, `{"op":`...)
	b = scim.AppendString(b, string(r.Op))
	b = append(b, `,"kind":`...)
	b = scim.AppendString(b, string(r.Kind))
	b = append(b, `,"sourceId":`...)
	b = scim.AppendString(b, r.SourceID)
	var err error
	if l := r.Link; l != nil {
		b = append(b, `,"link":`...)
		if b, err = appendLink(b, l, validate); err != nil {
			return b[:start], err
		}
	}
	if in := r.Intent; in != nil {
		b = append(b, `,"intent":{"kind":`...)
		b = scim.AppendString(b, string(in.Kind))
		b = append(b, `,"sourceId":`...)
		b = scim.AppendString(b, in.SourceID)
		b = append(b, `,"key":`...)
		b = scim.AppendString(b, in.Key)
		b = appendOptional(b, `,"externalId":`, in.ExternalID)
		b = appendOptional(b, `,"source":`, in.Source)
		b = append(b, `,"since":`...)
		if b, err = appendTime(b, in.Since); err != nil {
			return b[:start], err
		}
		b = append(b, '}')
	}
	if m := r.Mirror; m != nil {
		b = append(b, `,"mirror":`...)
		if b, err = appendMirror(b, m, validate); err != nil {
			return b[:start], err
		}
	}
	return append(b, '}', '\n'), nil
}

// appendLink appends l's JSON, as encoding/json makes it.
func appendLink(b []byte, l *Link, validate bool) ([]byte, error) {
	b = append(b, `{"targetId":`...)
	b = scim.AppendString(b, l.TargetID)
	b = append(b, `,"origin":`...)
	b = scim.AppendString(b, string(l.Origin))
	b = appendOptional(b, `,"source":`, l.Source)
	b = append(b, `,"since":`...)
	var err error
	if b, err = appendTime(b, l.Since); err != nil {
		return b, err
	}
	if !l.DeactivatedAt.IsZero() {
		b = append(b, `,"deactivatedAt":`...)
		if b, err = appendTime(b, l.DeactivatedAt); err != nil {
			return b, err
		}
	}
	if l.Mirror != nil {
		b = append(b, `,"mirror":`...)
		if b, err = appendMirror(b, l.Mirror, validate); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendMirror appends m's JSON.
func appendMirror(b []byte, m *Mirror, validate bool) ([]byte, error) {
	b = append(b, '{')
	n := len(b)
	if isPacked(m.User) {
		var ok bool
		if b, ok = appendPackedJSON(append(b, `"user":`...), m.User); !ok {
			u, ok := unpackUser(m.User)
			if !ok {
				return b, errors.New("a mirror's compact user does not decode")
			}
			b = u.AppendJSON(b)
		}
	} else if len(m.User) > 0 {
		if validate && !json.Valid(m.User) {
			return b, errRecordJSON // encoding/json says what is wrong
		}
		b = append(b, `"user":`...)
		if bytes.ContainsAny(m.User, "\n\r") {
			// Read back from an indented state file: one line it must be.
			var c bytes.Buffer
			if err := json.Compact(&c, m.User); err != nil {
				return b, errRecordJSON
			}
			b = append(b, c.Bytes()...)
		} else {
			b = append(b, m.User...)
		}
	}
	for _, f := range [...]struct{ key, v string }{
		{`"displayName":`, m.DisplayName}, {`"externalId":`, m.ExternalID},
	} {
		if f.v == "" {
			continue
		}
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, f.key...)
		b = scim.AppendString(b, f.v)
	}
	if m.Members != "" {
		if len(b) > n {
			b = append(b, ',')
		}
		b = appendMembers(append(b, `"members":`...), m.Members)
	}
	return append(b, '}'), nil
}

// appendMembers appends l as the JSON string of its text, one id per
// line, without making that text first.
func appendMembers(b []byte, l MemberList) []byte {
	p, packed := strings.CutPrefix(string(l), packedMarker)
	if !packed {
		return scim.AppendString(b, string(l))
	}
	b = append(b, '"')
	for i := 0; i+16 <= len(p); i += 16 {
		if i > 0 {
			b = append(b, '\\', 'n')
		}
		b = appendUnpackedUUID(b, p[i:i+16])
	}
	return append(b, '"')
}

// appendOptional appends key and v unless v is empty.
func appendOptional(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, key...)
	return scim.AppendString(b, v)
}

// appendTime appends t as time.Time's MarshalJSON does; errRecordJSON for
// the times it refuses.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, errRecordJSON
	}
	if _, off := t.Zone(); off <= -24*60*60 || off >= 24*60*60 {
		return b, errRecordJSON
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// encodeRecords returns the journal lines of recs. A record the append
// encoder cannot make goes through encoding/json, which gives the error.
func encodeRecords(recs []Record, validate bool) ([]byte, error) {
	return appendRecords(nil, recs, validate)
}

// appendRecords appends the journal lines of recs to b, grown once to
// about their size if it has not the room.
func appendRecords(b []byte, recs []Record, validate bool) ([]byte, error) {
	size := 0
	for i := range recs {
		r := &recs[i]
		size += 256 + len(r.SourceID)
		if r.Link != nil {
			size += mirrorSize(r.Link.Mirror)
		}
		size += mirrorSize(r.Mirror)
	}
	b = slices.Grow(b, size)
	for i := range recs {
		var err error
		if b, err = appendRecord(b, &recs[i], validate); err == nil {
			continue
		}
		line, err := json.Marshal(&recs[i])
		if err != nil {
			return nil, err
		}
		b = append(append(b, line...), '\n')
	}
	return b, nil
}

// mirrorSize is about the length of m's JSON: a packed member list takes
// 38 bytes an id as text, 16 packed; a compact user up to about four
// times its size.
func mirrorSize(m *Mirror) int {
	if m == nil {
		return 0
	}
	return 64 + 4*len(m.User) + len(m.DisplayName) + len(m.ExternalID) + 5*len(m.Members)/2
}
