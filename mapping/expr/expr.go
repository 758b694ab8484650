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
	read  []AttrFunc // by attribute position; set by Bind
	ctxs  sync.Pool  // of *evalCtx, so that Eval does not allocate one
}

// AttrFunc reads one attribute of env for an expression made by Bind: its
// value, Null() when env does not have it, or an error for a value the
// language has no type for (as FromAny reports).
type AttrFunc func(env Env) (Value, error)

// Bind returns a copy of e whose attribute references read their values
// through the functions resolve returns, called once here for each name
// e.Attributes() lists; a nil function leaves Env.Attr for that name.
// Evaluation then calls read(env) where it would call env.Attr(name) and
// FromAny: the caller resolves each name once rather than on every
// evaluation, and hands over values without boxing them. Results and
// errors are as for e when every function returns what FromAny makes of
// env.Attr(name). e itself is unchanged.
func (e *Expr) Bind(resolve func(name string) AttrFunc) *Expr {
	read := make([]AttrFunc, len(e.attrs))
	for i, name := range e.attrs {
		read[i] = resolve(name)
	}
	return &Expr{src: e.src, root: e.root, attrs: e.attrs, read: read}
}

// Source returns the text the expression was parsed from.
func (e *Expr) Source() string { return e.src }

// Attributes returns the names of the attributes the expression
// references, each once, in order of first appearance. They are every
// name an evaluation reads (the language reads attributes by [name]
// only, never by a name it computes), so an Env holding only these
// attributes evaluates alike.
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
	read     []AttrFunc
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
	*c = evalCtx{env: env, src: e.src, read: e.read}
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
		var v Value
		var err error
		if c.read != nil && c.read[n.attr] != nil {
			v, err = c.read[n.attr](c.env)
		} else {
			a, ok := c.env.Attr(n.text)
			if !ok {
				return Value{}, nil
			}
			v, err = FromAny(a)
		}
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
