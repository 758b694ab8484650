package google

import (
	"context"
	"time"
)

// SetRetrySleep makes src wait between retries with sleep instead of on
// the real clock.
func SetRetrySleep(src *Source, sleep func(ctx context.Context, d time.Duration) error) {
	src.call.retry.Policy.Sleep = sleep
}

// SetPageHook makes src call hook after converting each users page.
func SetPageHook(src *Source, hook func()) { src.pageHook = hook }
