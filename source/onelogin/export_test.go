package onelogin

import (
	"context"
	"time"
)

// SetClock makes src's pacing read the time from now and wait with wait,
// which returns once the clock reads until or ctx is done.
func SetClock(src *Source, now func() time.Time, wait func(ctx context.Context, until time.Time) error) {
	src.c.now, src.c.wait = now, wait
}
