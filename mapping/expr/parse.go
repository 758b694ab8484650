package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting of calls, so that hostile input cannot
// exhaust the stack.
const maxDepth = 200

type nodeKind uint8

const (
	nLit     nodeKind = iota // string, number or constant; val holds it
	nOmitted                 // an empty argument: f(a, , b)
	nAttr                    // [name]
	nCall                    // name(args)
	nCompare                 // args[0] op args[1]
)

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

var opText = [...]string{opEq: "=", opNe: "<>", opLt: "<", opLe: "<=", opGt: ">", opGe: ">="}

// node is one node of the syntax tree.
type node struct {
	kind nodeKind
	op   cmpOp
	pos  int
	val  Value  // nLit
	text string // nLit: constant name; nAttr: attribute name
	attr int    // nAttr: the name's position in Expr.attrs
	fn   *funcDef
	args []*node
	aux  any // per-function data prepared at parse time
}

// constants are the bare names the language knows, by lower-case name.
var constants = map[string]struct {
	name string
	val  Value
}{
	"vbbinarycompare": {"vbBinaryCompare", Value{kind: KindNumber, i: 0}},
	"vbtextcompare":   {"vbTextCompare", Value{kind: KindNumber, i: 1}},
	"true":            {"True", Value{kind: KindBool, i: 1}},
	"false":           {"False", Value{kind: KindBool}},
}

type parser struct {
	src   string
	pos   int
	depth int
	attrs []string
}

// Parse parses an expression. Errors are *SyntaxError values that wrap
// ErrSyntax, ErrUnknownFunction or ErrArity.
func Parse(src string) (*Expr, error) {
	p := &parser{src: src}
	p.skipSpace()
	if p.pos == len(src) {
		return nil, p.fail(p.pos, ErrSyntax, "empty expression")
	}
	root, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(src) {
		return nil, p.fail(p.pos, ErrSyntax, "unexpected %s after the end of the expression", p.found())
	}
	return &Expr{src: src, root: root, attrs: p.attrs}, nil
}

// MustParse is like Parse but panics on error. It is for expressions
// fixed in code.
func MustParse(src string) *Expr {
	e, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return e
}

func (p *parser) fail(pos int, sentinel error, format string, args ...any) *SyntaxError {
	line, col := lineCol(p.src, pos)
	return &SyntaxError{Pos: pos, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// found describes what is at the current position, for error messages.
func (p *parser) found() string {
	if p.pos >= len(p.src) {
		return "end of input"
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return strconv.QuoteRune(r)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// parseExpr parses an operand, optionally compared with a second one.
func (p *parser) parseExpr() (*node, error) {
	left, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	opPos := p.pos
	op, ok := p.parseOp()
	if !ok {
		return left, nil
	}
	p.skipSpace()
	right, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		save := p.pos
		if _, chained := p.parseOp(); chained {
			return nil, p.fail(save, ErrSyntax, "comparisons cannot be chained; nest them in IIF instead")
		}
	}
	return &node{kind: nCompare, op: op, pos: opPos, args: []*node{left, right}}, nil
}

// parseOp consumes a comparison operator, if one is next.
func (p *parser) parseOp() (cmpOp, bool) {
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "<>"):
		p.pos += 2
		return opNe, true
	case strings.HasPrefix(rest, "<="):
		p.pos += 2
		return opLe, true
	case strings.HasPrefix(rest, ">="):
		p.pos += 2
		return opGe, true
	case strings.HasPrefix(rest, "="):
		p.pos++
		return opEq, true
	case strings.HasPrefix(rest, "<"):
		p.pos++
		return opLt, true
	case strings.HasPrefix(rest, ">"):
		p.pos++
		return opGt, true
	}
	return 0, false
}

func (p *parser) parseOperand() (*node, error) {
	c := p.peek()
	switch {
	case p.pos >= len(p.src):
		return nil, p.fail(p.pos, ErrSyntax, "expected a function call, [attribute], \"string\" or number, found end of input")
	case c == '"':
		return p.parseString()
	case c == '[':
		return p.parseAttr()
	case c == '-' || c == '&' || isDigit(c):
		return p.parseNumber()
	case isIdentStart(c):
		return p.parseIdent()
	}
	return nil, p.fail(p.pos, ErrSyntax, "expected a function call, [attribute], \"string\" or number, found %s", p.found())
}

func (p *parser) parseString() (*node, error) {
	start := p.pos
	p.pos++ // opening quote
	var b strings.Builder
	from := p.pos // start of the pending run not yet copied to b
	escaped := false
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\\' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == '\\' || p.src[p.pos+1] == '"'):
			b.WriteString(p.src[from:p.pos])
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
			from = p.pos
			escaped = true
		case c == '"' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '"':
			// VBA style doubled quote.
			b.WriteString(p.src[from:p.pos])
			b.WriteByte('"')
			p.pos += 2
			from = p.pos
			escaped = true
		case c == '"':
			s := p.src[from:p.pos]
			if escaped {
				b.WriteString(s)
				s = b.String()
			}
			p.pos++
			return &node{kind: nLit, pos: start, val: String(s)}, nil
		default:
			p.pos++
		}
	}
	return nil, p.fail(start, ErrSyntax, "unterminated string: no closing \"")
}

func (p *parser) parseAttr() (*node, error) {
	start := p.pos
	end := strings.IndexAny(p.src[start+1:], "]\n")
	if end < 0 || p.src[start+1+end] != ']' {
		return nil, p.fail(start, ErrSyntax, "unterminated attribute: no closing ]")
	}
	name := strings.TrimSpace(p.src[start+1 : start+1+end])
	p.pos = start + end + 2
	if name == "" {
		return nil, p.fail(start, ErrSyntax, "empty attribute name")
	}
	if strings.ContainsAny(name, "[\r") {
		return nil, p.fail(start, ErrSyntax, "attribute name %q contains %q", name, "[")
	}
	return &node{kind: nAttr, pos: start, text: name, attr: p.addAttr(name)}, nil
}

// addAttr records an attribute name once and returns its position.
func (p *parser) addAttr(name string) int {
	for i, a := range p.attrs {
		if a == name {
			return i
		}
	}
	p.attrs = append(p.attrs, name)
	return len(p.attrs) - 1
}

func (p *parser) parseNumber() (*node, error) {
	start := p.pos
	if p.peek() == '&' {
		if p.pos+1 >= len(p.src) || (p.src[p.pos+1] != 'H' && p.src[p.pos+1] != 'h') {
			return nil, p.fail(start, ErrSyntax, "expected a hexadecimal number like &HFF after &")
		}
		p.pos += 2
		digits := p.pos
		for p.pos < len(p.src) && isHex(p.src[p.pos]) {
			p.pos++
		}
		u, err := strconv.ParseUint(p.src[digits:p.pos], 16, 64)
		if err != nil {
			return nil, p.fail(start, ErrSyntax, "invalid hexadecimal number %q", p.src[start:p.pos])
		}
		return &node{kind: nLit, pos: start, val: Int(int64(u))}, nil
	}
	if p.peek() == '-' {
		p.pos++
		if !isDigit(p.peek()) {
			return nil, p.fail(start, ErrSyntax, "expected a digit after -")
		}
	}
	for isDigit(p.peek()) {
		p.pos++
	}
	isFloat := false
	if p.peek() == '.' {
		p.pos++
		if !isDigit(p.peek()) {
			return nil, p.fail(p.pos, ErrSyntax, "expected a digit after the decimal point")
		}
		for isDigit(p.peek()) {
			p.pos++
		}
		isFloat = true
	}
	text := p.src[start:p.pos]
	if !isFloat {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return &node{kind: nLit, pos: start, val: Int(i)}, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, p.fail(start, ErrSyntax, "number %s out of range", text)
	}
	if f == 0 {
		f = 0 // no negative zero
	}
	return &node{kind: nLit, pos: start, val: Float(f)}, nil
}

func (p *parser) parseIdent() (*node, error) {
	start := p.pos
	for p.pos < len(p.src) && (isIdentStart(p.src[p.pos]) || isDigit(p.src[p.pos])) {
		p.pos++
	}
	name := p.src[start:p.pos]
	lower := strings.ToLower(name)
	p.skipSpace()
	if p.peek() != '(' {
		if c, ok := constants[lower]; ok {
			return &node{kind: nLit, pos: start, val: c.val, text: c.name}, nil
		}
		if f, ok := functions[lower]; ok {
			return nil, p.fail(p.pos, ErrSyntax, "expected \"(\" after %s, found %s", f.name, p.found())
		}
		return nil, p.fail(start, ErrSyntax, "unknown name %q: attributes are written [%s], strings \"%s\"", name, name, name)
	}
	f, ok := functions[lower]
	if !ok {
		msg := fmt.Sprintf("unknown function %q", name)
		if s := suggest(lower); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		return nil, p.fail(start, ErrUnknownFunction, "%s", msg)
	}
	if f.topLevel && p.depth > 0 {
		return nil, p.fail(start, ErrSyntax, "%s must be the outermost function and cannot be nested", f.name)
	}
	if p.depth >= maxDepth {
		return nil, p.fail(start, ErrSyntax, "calls nested more than %d deep", maxDepth)
	}
	p.pos++ // (
	n := &node{kind: nCall, pos: start, fn: f}
	p.depth++
	defer func() { p.depth-- }()
	p.skipSpace()
	if p.peek() == ')' {
		p.pos++
	} else {
		for {
			p.skipSpace()
			var arg *node
			if c := p.peek(); c == ',' || c == ')' {
				arg = &node{kind: nOmitted, pos: p.pos}
			} else {
				var err error
				if arg, err = p.parseExpr(); err != nil {
					return nil, err
				}
				p.skipSpace()
			}
			n.args = append(n.args, arg)
			if p.peek() == ',' {
				p.pos++
				continue
			}
			if p.peek() == ')' {
				p.pos++
				break
			}
			return nil, p.fail(p.pos, ErrSyntax, "expected \")\" after arguments of %s, found %s", f.name, p.found())
		}
	}
	if err := f.checkArity(len(n.args)); err != "" {
		return nil, p.fail(start, ErrArity, "%s", err)
	}
	if f.check != nil {
		if pos, msg, sentinel := f.check(n); msg != "" {
			return nil, p.fail(pos, sentinel, "%s: %s", f.name, msg)
		}
	}
	return n, nil
}

// checkArity returns a message if n arguments are wrong for f.
func (f *funcDef) checkArity(n int) string {
	if n >= f.min && (f.max < 0 || n <= f.max) {
		if f.even && n%2 != 0 {
			return fmt.Sprintf("%s takes an even number of arguments (source, default, then key/value pairs), got %d", f.name, n)
		}
		return ""
	}
	var want string
	switch {
	case f.max < 0:
		want = fmt.Sprintf("at least %d", f.min)
	case f.min == f.max:
		want = strconv.Itoa(f.min)
	default:
		want = fmt.Sprintf("%d to %d", f.min, f.max)
	}
	plural := "s"
	if f.min == 1 && f.max == 1 {
		plural = ""
	}
	return fmt.Sprintf("%s takes %s argument%s, got %d", f.name, want, plural, n)
}

// suggest returns the function name closest to the unknown lower-case
// name, or "" if none is close.
func suggest(name string) string {
	limit := 2
	if len(name) >= 8 {
		limit = 3
	}
	best, bestD := "", limit+1
	for k, f := range functions {
		d := editDistance(name, k)
		if d < bestD || (d == bestD && f.name < best) {
			best, bestD = f.name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isIdentStart(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
}
