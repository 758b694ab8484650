package source

import (
	"fmt"
	"strconv"
	"strings"
)

// State is the lifecycle state of a user at the source. The zero value is
// StateActive.
type State uint8

// The states a user can be in.
const (
	// StateActive: the account exists and may sign in.
	StateActive State = iota
	// StateSuspended: the account exists but may not sign in (Entra
	// accountEnabled=false, Google suspended or archived, OneLogin
	// suspended or locked).
	StateSuspended
	// StateDeleted: the source deleted the account but still reports it,
	// as Google does for deleted users until they are purged.
	StateDeleted
)

// stateNames are the text forms of the states, indexed by State.
var stateNames = [...]string{
	StateActive:    "active",
	StateSuspended: "suspended",
	StateDeleted:   "deleted",
}

// ParseState returns the state named s: "active", "suspended" or
// "deleted", in any case, surrounding spaces ignored. Any other text is an
// error matching ErrInvalid.
func ParseState(s string) (State, error) {
	t := strings.TrimSpace(s)
	for i, name := range stateNames {
		if strings.EqualFold(t, name) {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown state %q (want active, suspended or deleted)", ErrInvalid, s)
}

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool { return int(s) < len(stateNames) }

// String returns the state's name, or "State(n)" for an undefined value.
func (s State) String() string {
	if s.Valid() {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText returns the state's name. An undefined state is an error
// matching ErrInvalid.
func (s State) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("%w: cannot marshal undefined %s", ErrInvalid, s)
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText parses a state name as ParseState does.
func (s *State) UnmarshalText(text []byte) error {
	v, err := ParseState(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
