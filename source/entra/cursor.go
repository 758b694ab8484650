package entra

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

const (
	cursorVersion = 1
	cursorPrefix  = "entra1."
	maxCursor     = 64 << 20 // decompressed
)

// cursor is what ReadChanges needs from the previous read: both delta
// links and, for ScopeAssigned, what was in scope. It is stored by the
// engine as "entra1." + base64url(gzip(JSON)); it holds ids, group names
// and Graph URLs, never a credential.
type cursor struct {
	Version     int    `json:"v"`
	Fingerprint string `json:"f"`
	// Users and Groups are the users/delta and groups/delta links.
	Users  string `json:"u"`
	Groups string `json:"g"`
	// Direct are the users assigned directly, Assigned the groups.
	Direct   []string      `json:"d,omitempty"`
	Assigned []cursorGroup `json:"a,omitempty"`
}

func (c *cursor) encode() (string, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("entra: encoding the cursor: %w", err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(raw)
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("entra: encoding the cursor: %w", err)
	}
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b.Bytes()), nil
}

// errOldCursor is a cursor of another version of this source.
var errOldCursor = errors.New("a cursor of another version")

func decodeCursor(s string) (*cursor, error) {
	body, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		if strings.HasPrefix(s, "entra") {
			return nil, errOldCursor
		}
		return nil, errors.New("not an entra cursor")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("not an entra cursor: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not an entra cursor: %w", err)
	}
	js, err := io.ReadAll(io.LimitReader(zr, maxCursor))
	if err != nil {
		return nil, fmt.Errorf("not an entra cursor: %w", err)
	}
	var c cursor
	if err := json.Unmarshal(js, &c); err != nil {
		return nil, fmt.Errorf("not an entra cursor: %w", err)
	}
	if c.Version != cursorVersion {
		return nil, errOldCursor
	}
	if c.Users == "" || c.Groups == "" {
		return nil, errors.New("the entra cursor has no delta links")
	}
	return &c, nil
}

// shortHash returns a short hex hash of s.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}
