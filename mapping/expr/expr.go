package expr

import (
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Env supplies attribute values to an expression. source.User satisfies
// it. Values must be nil, string, bool, int64, int, float64, []string or
// time.Time (see FromAny).
type Env interface {
	// Attr returns the value of the named attribute and whether it is set.
	Attr(name string) (any, bool)
}

// Expr is a parsed expression. It is safe for concurrent use; it must
// not be copied.
type Expr struct {
	src   string
	root  *node
	attrs []string
	ctxs  sync.Pool // of *evalCtx, so that Eval does not allocate one
}

// Source returns the text the expression was parsed from.
func (e *Expr) Source() string { return e.src }

// Attributes returns the names of the attributes the expression
// references, each once, in order of first appearance.
func (e *Expr) Attributes() []string {
	return append([]string(nil), e.attrs...)
}

// String returns the expression in canonical form: function names spelled
// as documented, arguments separated by ", ", strings quoted with
// backslash escapes. Parse(e.String()) yields an equivalent expression.
func (e *Expr) String() string {
	var b strings.Builder
	writeNode(&b, e.root)
	return b.String()
}

func writeNode(b *strings.Builder, n *node) {
	switch n.kind {
	case nLit:
		switch {
		case n.text != "":
			b.WriteString(n.text)
		case n.val.kind == KindString:
			writeQuoted(b, n.val.s)
		default:
			b.WriteString(n.val.String())
		}
	case nAttr:
		b.WriteByte('[')
		b.WriteString(n.text)
		b.WriteByte(']')
	case nCall:
		b.WriteString(n.fn.name)
		b.WriteByte('(')
		for i, a := range n.args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeNode(b, a)
		}
		b.WriteByte(')')
	case nCompare:
		writeNode(b, n.args[0])
		b.WriteByte(' ')
		b.WriteString(opText[n.op])
		b.WriteByte(' ')
		writeNode(b, n.args[1])
	}
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// EvalOption sets an optional input of EvalWith.
type EvalOption func(*evalConfig)

type evalConfig struct {
	now    func() time.Time
	guid   func() string
	rand   *rand.Rand
	unique func(string) bool
}

// WithClock makes Now, and anything else that needs the time, use now
// instead of time.Now.
func WithClock(now func() time.Time) EvalOption {
	return func(c *evalConfig) { c.now = now }
}

// WithGUID makes Guid return what gen returns instead of a random
// version 4 UUID.
func WithGUID(gen func() string) EvalOption {
	return func(c *evalConfig) { c.guid = gen }
}

// WithRand makes RandomString and Guid draw from r (which is not safe
// for concurrent use) instead of the runtime's secure generator. Use a
// seeded r for reproducible output in tests.
func WithRand(r *rand.Rand) EvalOption {
	return func(c *evalConfig) { c.rand = r }
}

// WithUnique makes SelectUniqueValue return the first candidate for which
// unique returns true. Without it the first non-empty candidate is taken.
func WithUnique(unique func(string) bool) EvalOption {
	return func(c *evalConfig) { c.unique = unique }
}

// evalCtx is the state of one evaluation.
type evalCtx struct {
	env      Env
	src      string
	cfg      evalConfig
	redacted bool
}

// Eval evaluates the expression against env with default options. Errors
// are *EvalError values that wrap ErrEval.
func (e *Expr) Eval(env Env) (Value, error) {
	return e.EvalWith(env)
}

// EvalWith evaluates the expression against env with the given options.
// A nil env has no attributes.
func (e *Expr) EvalWith(env Env, opts ...EvalOption) (Value, error) {
	c, _ := e.ctxs.Get().(*evalCtx)
	if c == nil {
		c = new(evalCtx)
	}
	*c = evalCtx{env: env, src: e.src}
	for _, o := range opts {
		o(&c.cfg)
	}
	v, err := c.eval(e.root)
	if c.redacted && err == nil {
		v.flags |= flagRedacted
	}
	*c = evalCtx{} // drop references to env and options
	e.ctxs.Put(c)
	if err != nil {
		return Value{}, err
	}
	return v, nil
}

func (c *evalCtx) eval(n *node) (Value, error) {
	switch n.kind {
	case nLit:
		return n.val, nil
	case nAttr:
		if c.env == nil {
			return Value{}, nil
		}
		a, ok := c.env.Attr(n.text)
		if !ok {
			return Value{}, nil
		}
		v, err := FromAny(a)
		if err != nil {
			line, col := lineCol(c.src, n.pos)
			return Value{}, &EvalError{Pos: n.pos, Line: line, Col: col, Msg: "attribute [" + n.text + "]: " + err.Error()}
		}
		return v, nil
	case nCall:
		return n.fn.eval(c, n)
	case nCompare:
		return c.compare(n)
	}
	return Value{}, nil
}
