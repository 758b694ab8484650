package target

import "context"

// guardKey is the context key of a write guard.
type guardKey struct{}

// WithWriteGuard returns a copy of ctx that carries check, the write
// guard: a target calls it (through GuardWrite) right before it sends
// each request that could change the target, every attempt of a retry
// and every chunk of a split call included, and sends nothing once it
// fails. The sync engine sets one during an apply whose state can lose
// its leadership, so that a process that no longer leads stops before its
// next request. A guard set on ctx already is replaced.
func WithWriteGuard(ctx context.Context, check func(context.Context) error) context.Context {
	return context.WithValue(ctx, guardKey{}, check)
}

// GuardWrite calls the write guard of ctx (WithWriteGuard) and returns
// its error; nil when ctx carries none. A target calls it right before
// sending each write request and, on an error, returns it (wrapped)
// without sending.
func GuardWrite(ctx context.Context) error {
	if check, ok := ctx.Value(guardKey{}).(func(context.Context) error); ok && check != nil {
		return check(ctx)
	}
	return nil
}

// WriteGuarded is implemented by targets that call GuardWrite before each
// write request they send. For a target that does not implement it, the
// sync engine calls the guard itself before each write method it calls,
// which does not cover the waits and retries inside the call.
type WriteGuarded interface {
	// GuardsWrites marks the target; it does nothing.
	GuardsWrites()
}
