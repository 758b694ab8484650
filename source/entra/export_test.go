package entra

import (
	"context"
	"time"
)

// SetRetrySleep makes a source opened from c wait between retries with
// sleep instead of on the real clock.
func SetRetrySleep(c *Config, sleep func(ctx context.Context, d time.Duration) error) {
	c.retrySleep = sleep
}
