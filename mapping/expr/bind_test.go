package expr

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// countingEnv is an Env over a map that counts Attr calls by name.
type countingEnv struct {
	vals  map[string]any
	calls map[string]int
}

func (c *countingEnv) Attr(name string) (any, bool) {
	c.calls[name]++
	v, ok := c.vals[name]
	return v, ok
}

func TestBindResolvesEachNameOnce(t *testing.T) {
	e := MustParse(`Join("-", [a], [b], [a], IIF([c] = "x", [a], "no"))`)
	var resolved []string
	reads := map[string]int{}
	b := e.Bind(func(name string) AttrFunc {
		resolved = append(resolved, name)
		if name == "b" {
			return nil // b stays with Attr
		}
		return func(env Env) (Value, error) {
			reads[name]++
			return String(strings.ToUpper(name)), nil
		}
	})
	if want := []string{"a", "b", "c"}; !slices.Equal(resolved, want) {
		t.Fatalf("resolve called for %q, want each name once: %q", resolved, want)
	}
	env := &countingEnv{vals: map[string]any{"a": "1", "b": "2", "c": "x"}, calls: map[string]int{}}
	for range 2 {
		v, err := b.Eval(env)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := show(v), "string:A-2-A-no"; got != want {
			t.Errorf("bound Eval = %s, want %s (A and C from the readers, 2 from Attr)", got, want)
		}
	}
	if reads["a"] != 4 || reads["c"] != 2 || env.calls["b"] != 2 || env.calls["a"] != 0 || env.calls["c"] != 0 {
		t.Errorf("readers called %v, Attr called %v; want a 4 and c 2 by readers, b 2 by Attr", reads, env.calls)
	}
	// The parsed expression is unchanged: it reads everything with Attr.
	v, err := e.Eval(env)
	if err != nil || show(v) != "string:1-2-1-1" {
		t.Errorf("unbound Eval = %s, %v; want string:1-2-1-1", show(v), err)
	}
	if env.calls["a"] != 3 {
		t.Errorf("unbound Eval called Attr(a) %d times, want 3", env.calls["a"])
	}
	if got := b.String(); got != e.String() || !slices.Equal(b.Attributes(), e.Attributes()) || b.Source() != e.Source() {
		t.Errorf("bound expression %q differs from %q", got, e.String())
	}
}

func TestBindReaderErrorIsLocated(t *testing.T) {
	e := MustParse(`Trim( [dept] )`).Bind(func(string) AttrFunc {
		return func(Env) (Value, error) { return Value{}, errors.New("unsupported attribute value type chan int") }
	})
	_, err := e.Eval(mapEnv{})
	var ee *EvalError
	if !errors.As(err, &ee) || !errors.Is(err, ErrEval) {
		t.Fatalf("err = %v, want an *EvalError wrapping ErrEval", err)
	}
	if ee.Pos != 6 || ee.Col != 7 || !strings.Contains(ee.Msg, "attribute [dept]: unsupported attribute value type chan int") {
		t.Errorf("error %q at %d (col %d), want the attribute named at 6 (col 7)", ee.Msg, ee.Pos, ee.Col)
	}
}

func TestBindNilEnvHasNoAttributes(t *testing.T) {
	called := false
	e := MustParse(`IsNull([a])`).Bind(func(string) AttrFunc {
		return func(Env) (Value, error) { called = true; return String("x"), nil }
	})
	v, err := e.Eval(nil)
	if err != nil || show(v) != "bool:True" || called {
		t.Errorf("Eval(nil) = %s, %v, reader called %v; want bool:True without reading", show(v), err, called)
	}
}
