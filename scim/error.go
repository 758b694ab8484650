package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sentinel errors of the wire model.
var (
	// ErrInvalidValue is returned when an attribute's value has the wrong type.
	ErrInvalidValue = errors.New("scim: invalid value")
	// ErrInvalidFilter is returned for a filter that cannot be built.
	ErrInvalidFilter = errors.New("scim: invalid filter")
	// ErrInvalidPath is returned for a malformed attribute path.
	ErrInvalidPath = errors.New("scim: invalid attribute path")
)

// scimType values of RFC 7644 section 3.12.
const (
	ScimTypeUniqueness    = "uniqueness"
	ScimTypeInvalidFilter = "invalidFilter"
	ScimTypeInvalidSyntax = "invalidSyntax"
	ScimTypeInvalidPath   = "invalidPath"
	ScimTypeInvalidValue  = "invalidValue"
	ScimTypeMutability    = "mutability"
	ScimTypeTooMany       = "tooMany"
	ScimTypeNoTarget      = "noTarget"
)

// maxDetail bounds the length of a detail kept from a raw, non-JSON body.
const maxDetail = 512

// Error is a SCIM error response body (RFC 7644 section 3.12). Netskope's
// gateway also answers with {"message": "..."}; Message keeps that form.
// Status is written as a string, as the RFC says, and read from a string
// or a number.
type Error struct {
	Schemas  []string `json:"schemas,omitempty"`
	Status   int      `json:"-"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Message  string   `json:"message,omitempty"`
}

// NewError returns an RFC 7644 error body.
func NewError(status int, scimType, detail string) *Error {
	return &Error{Schemas: []string{SchemaError}, Status: status, ScimType: scimType, Detail: detail}
}

// Error describes the error in one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("scim: status ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.ScimType != "" {
		b.WriteString(" (")
		b.WriteString(e.ScimType)
		b.WriteString(")")
	}
	if d := e.Text(); d != "" {
		b.WriteString(": ")
		b.WriteString(d)
	}
	return b.String()
}

// Text returns the human-readable part: detail, else message.
func (e *Error) Text() string {
	if e.Detail != "" {
		return e.Detail
	}
	return e.Message
}

// MarshalJSON writes status as a string, as RFC 7644 specifies.
func (e *Error) MarshalJSON() ([]byte, error) {
	type plain Error
	aux := struct {
		*plain
		Status string `json:"status,omitempty"`
	}{plain: (*plain)(e)}
	if e.Status != 0 {
		aux.Status = strconv.Itoa(e.Status)
	}
	return json.Marshal(aux)
}

// UnmarshalJSON reads status from a string or a number.
func (e *Error) UnmarshalJSON(b []byte) error {
	type plain Error
	aux := struct {
		*plain
		Status json.RawMessage `json:"status"`
	}{plain: (*plain)(e)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	e.Status = 0
	if len(aux.Status) > 0 {
		s := strings.Trim(string(aux.Status), `"`)
		if n, err := strconv.Atoi(s); err == nil {
			e.Status = n
		}
	}
	return nil
}

// ParseError reads an error response of the given HTTP status. It accepts
// the RFC 7644 body, Netskope's {"message": ...} form, an {"error": ...}
// form, or any other body, whose text (cut to a bounded length) becomes the
// detail. The HTTP status wins over a status in the body.
func ParseError(status int, body []byte) *Error {
	e := &Error{}
	var generic struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "{") && json.Unmarshal(body, e) == nil {
		if e.Detail == "" && e.Message == "" && json.Unmarshal(body, &generic) == nil {
			switch {
			case len(generic.Error) > 0 && generic.Error[0] == '"':
				_ = json.Unmarshal(generic.Error, &e.Message)
			case len(generic.Error) > 0:
				var nested struct {
					Message string `json:"message"`
				}
				if json.Unmarshal(generic.Error, &nested) == nil {
					e.Message = nested.Message
				}
			}
			if d := strings.TrimSpace(generic.ErrorDescription); d != "" {
				e.Message = strings.TrimSpace(e.Message + ": " + d)
			}
		}
	} else {
		e = &Error{Detail: truncate(trimmed, maxDetail)}
	}
	e.Status = status
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... (%d bytes)", len(s))
}
