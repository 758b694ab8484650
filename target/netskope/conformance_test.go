package netskope_test

import (
	"testing"
	"time"

	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
	"github.com/provsync/provsync/target/targettest"
)

// harness opens the real client against a fresh embedded server.
type harness struct {
	faults netskopetest.Faults
	srv    *netskopetest.Server
}

func (h *harness) Open(t *testing.T) target.Target {
	h.srv = netskopetest.New(t, netskopetest.WithFaults(h.faults))
	c, err := netskope.New(h.srv.URL(), h.srv.Token(),
		netskope.WithRateLimit(0, 0),
		netskope.WithBackoff(time.Millisecond, 10*time.Millisecond),
		netskope.WithMaxRetries(10))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) Throttle(t *testing.T, n int) bool {
	h.srv.ThrottleNext(n)
	return true
}

// Lie pages the server's lists in the ways the client can tell from the
// pages alone; under-reporting that pages consistently (ListEmpty,
// ListTotalFirstPage) takes the engine's check against its links.
func (h *harness) Lie(t *testing.T, n int) string {
	lies := []netskopetest.ListLie{netskopetest.ListNullResources, netskopetest.ListTotalDrifts,
		netskopetest.ListShortPage, netskopetest.ListRepeats}
	switch {
	case n < 0:
		h.srv.SetListLie(netskopetest.ListTruthful)
		return ""
	case n >= len(lies):
		return ""
	}
	h.srv.SetListLie(lies[n])
	return lies[n].String()
}

func TestConformance(t *testing.T) {
	t.Run("clean", func(t *testing.T) { targettest.Run(t, &harness{}) })
	t.Run("faults", func(t *testing.T) {
		h := &harness{faults: netskopetest.Faults{Rate429: 0.15, Rate500: 0.15, Seed: 42}}
		targettest.Run(t, h)
		if h.srv.Stats().Faults() == 0 {
			t.Error("no fault was injected; the faulty run proved nothing")
		}
	})
}
