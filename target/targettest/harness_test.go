package targettest_test

import (
	"testing"

	"github.com/provsync/provsync/target/targettest"
)

// TestNetskopeHarness runs the suite with the harness of the package
// example, so that the example stays true.
func TestNetskopeHarness(t *testing.T) { targettest.Run(t, &netskopeHarness{}) }
