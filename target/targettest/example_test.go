package targettest_test

import (
	"testing"
	"time"

	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
	"github.com/provsync/provsync/target/targettest"
)

// netskopeHarness runs the suite against the Netskope client and the
// embedded server: Open starts a fresh, empty server for each test and
// returns the client; Throttle makes the server answer 429 with a
// Retry-After, so the suite sees the client wait and retry.
type netskopeHarness struct{ srv *netskopetest.Server }

var _ targettest.Harness = (*netskopeHarness)(nil)

func (h *netskopeHarness) Open(t *testing.T) target.Target {
	h.srv = netskopetest.New(t) // closed when the test ends
	c, err := netskope.New(h.srv.URL(), h.srv.Token(),
		netskope.WithRateLimit(0, 0), netskope.WithBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *netskopeHarness) Throttle(_ *testing.T, n int) bool {
	h.srv.ThrottleNext(n)
	return true
}

// A target's test file runs the whole suite through its harness:
//
//	func TestConformance(t *testing.T) { targettest.Run(t, &netskopeHarness{}) }
//
// (TestNetskopeHarness in this package does exactly that.)
func Example() {}
