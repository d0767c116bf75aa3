package configs_test

import (
	"testing"

	"sharpeyes/configs"
	"sharpeyes/events"
)

// TestPolicyKindsAreTheEventKinds: a policy may name exactly the kinds
// events has.
func TestPolicyKindsAreTheEventKinds(t *testing.T) {
	known := configs.KnownKinds()
	for _, k := range events.Kinds() {
		if !known[k] {
			t.Errorf("events kind %q cannot be named in a policy", k)
		}
		delete(known, k)
	}
	for k := range known {
		t.Errorf("policy kind %q is no events kind", k)
	}
}
