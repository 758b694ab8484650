//go:build !race

// The race detector drops sync.Pool items at random, so Eval allocates
// its context now and then under -race; counts are checked without it.

package expr

import "testing"

// structEnv is an Env whose fields bound readers return without boxing.
type structEnv struct{ a, b string }

func (s *structEnv) Attr(name string) (any, bool) {
	switch name {
	case "a":
		return s.a, s.a != ""
	case "b":
		return s.b, s.b != ""
	}
	return nil, false
}

func TestBoundEvalDoesNotAllocate(t *testing.T) {
	e := MustParse(`Coalesce([a], IIF(InStr([b], "@") > 0, [b], ""))`).Bind(func(name string) AttrFunc {
		return func(env Env) (Value, error) {
			s := env.(*structEnv)
			if name == "a" {
				return String(s.a), nil
			}
			return String(s.b), nil
		}
	})
	env := &structEnv{b: "ada@example.com"}
	if v, err := e.Eval(env); err != nil || show(v) != "string:ada@example.com" {
		t.Fatalf("Eval = %s, %v", show(v), err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = e.Eval(env) }); n != 0 {
		t.Errorf("a bound Eval of string attributes allocates %.0f times", n)
	}
}
