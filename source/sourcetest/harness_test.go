package sourcetest_test

import (
	"testing"

	"github.com/provsync/provsync/source/sourcetest"
)

// TestMemHarness runs the suite with the harness of the package example,
// so that the example stays true, and checks the file source with it.
func TestMemHarness(t *testing.T) {
	sourcetest.Run(t, &memHarness{}, sourcetest.WithUserAttributes("department"))
}
