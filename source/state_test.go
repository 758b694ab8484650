package source_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/provsync/provsync/source"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		in      string
		want    source.State
		wantErr bool
	}{
		{"active", source.StateActive, false},
		{"suspended", source.StateSuspended, false},
		{"deleted", source.StateDeleted, false},
		{"Suspended", source.StateSuspended, false},
		{" DELETED ", source.StateDeleted, false},
		{"", 0, true},
		{"actve", 0, true},
		{"disabled", 0, true},
		{"1", 0, true},
	}
	for _, tt := range tests {
		got, err := source.ParseState(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseState(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, source.ErrInvalid) {
				t.Errorf("ParseState(%q) error %v does not match ErrInvalid", tt.in, err)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ParseState(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestStateText(t *testing.T) {
	tests := []struct {
		s       source.State
		str     string
		valid   bool
		marshal string
	}{
		{source.StateActive, "active", true, "active"},
		{source.StateSuspended, "suspended", true, "suspended"},
		{source.StateDeleted, "deleted", true, "deleted"},
		{source.State(9), "State(9)", false, ""},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.str {
			t.Errorf("State(%d).String() = %q, want %q", uint8(tt.s), got, tt.str)
		}
		if got := tt.s.Valid(); got != tt.valid {
			t.Errorf("State(%d).Valid() = %v, want %v", uint8(tt.s), got, tt.valid)
		}
		b, err := tt.s.MarshalText()
		if tt.valid {
			if err != nil || string(b) != tt.marshal {
				t.Errorf("State(%d).MarshalText() = %q, %v; want %q", uint8(tt.s), b, err, tt.marshal)
			}
			var back source.State
			if err := back.UnmarshalText(b); err != nil || back != tt.s {
				t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back, err, tt.s)
			}
		} else if err == nil || !errors.Is(err, source.ErrInvalid) {
			t.Errorf("State(%d).MarshalText() error = %v, want ErrInvalid", uint8(tt.s), err)
		}
	}
}

func TestStateZeroIsActive(t *testing.T) {
	var u source.User
	if u.State != source.StateActive {
		t.Fatalf("zero State = %v, want active", u.State)
	}
}

func TestStateJSON(t *testing.T) {
	type doc struct {
		S source.State `json:"s"`
	}
	b, err := json.Marshal(doc{S: source.StateSuspended})
	if err != nil || string(b) != `{"s":"suspended"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"s":"Deleted"}`), &d); err != nil || d.S != source.StateDeleted {
		t.Fatalf("Unmarshal = %v, %v", d.S, err)
	}
	if err := json.Unmarshal([]byte(`{"s":"gone"}`), &d); err == nil {
		t.Fatal("Unmarshal of an unknown state succeeded")
	}
	if _, err := json.Marshal(doc{S: 7}); err == nil {
		t.Fatal("Marshal of an undefined state succeeded")
	}
}
