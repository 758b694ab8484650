package expr

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Sentinel errors, for errors.Is.
var (
	// ErrSyntax is a malformed expression.
	ErrSyntax = errors.New("expr: syntax error")
	// ErrUnknownFunction is a call of a function the language lacks.
	ErrUnknownFunction = errors.New("expr: unknown function")
	// ErrArity is a call with the wrong number or combination of arguments.
	ErrArity = errors.New("expr: wrong number of arguments")
	// ErrEval is a failure while evaluating an expression.
	ErrEval = errors.New("expr: evaluation failed")
	// ErrNoUniqueValue is the cause of SelectUniqueValue's error when no
	// candidate is unique; the caller should hold the object back, as
	// Entra escrows it. The error also wraps ErrEval.
	ErrNoUniqueValue = errors.New("no candidate value is unique")
)

// SyntaxError is an error found by Parse. It wraps ErrSyntax,
// ErrUnknownFunction or ErrArity.
type SyntaxError struct {
	// Pos is the byte offset of the mistake in the source.
	Pos int
	// Line and Col are Pos as a 1-based line and column (in characters).
	Line, Col int
	// Msg describes the mistake.
	Msg string
	// Err is the sentinel the error wraps.
	Err error
}

// Error returns "expr: line:col: message".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("expr: %d:%d: %s", e.Line, e.Col, e.Msg)
}

// Unwrap returns the sentinel.
func (e *SyntaxError) Unwrap() error { return e.Err }

// EvalError is an error found while evaluating an expression. It wraps
// ErrEval and, when there is one, the underlying cause.
type EvalError struct {
	// Func is the name of the function that failed ("" for an attribute).
	Func string
	// Pos, Line and Col locate the failing call in the source.
	Pos, Line, Col int
	// Msg describes the failure.
	Msg string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns "expr: line:col: Func: message".
func (e *EvalError) Error() string {
	if e.Func == "" {
		return fmt.Sprintf("expr: %d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("expr: %d:%d: %s: %s", e.Line, e.Col, e.Func, e.Msg)
}

// Unwrap returns ErrEval and the cause.
func (e *EvalError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrEval}
	}
	return []error{ErrEval, e.Err}
}

// lineCol converts a byte offset in src to a 1-based line and column.
func lineCol(src string, pos int) (line, col int) {
	if pos > len(src) {
		pos = len(src)
	}
	line, start := 1, 0
	for i := 0; i < pos; i++ {
		if src[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCountInString(src[start:pos]) + 1
}
