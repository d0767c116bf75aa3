package cascade_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives its tests: every
// client waits for what it started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
