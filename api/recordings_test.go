package api

import (
	"errors"
	"fmt"
	"testing"
)

func TestSecondsAreDigits(t *testing.T) {
	for v, want := range map[string]float64{"30": 30, "2.5": 2.5, "0.1": 0.1, "3600": 3600, "007": 7} {
		if got, ok := seconds(v); !ok || got != want {
			t.Errorf("seconds(%q) = %v %v, want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "1_0", "1e3", "+5", "-1", "0x10", "Inf", "NaN", ".5", "5.", "1.2345", " 5", "1234567"} {
		if got, ok := seconds(v); ok {
			t.Errorf("seconds(%q) = %v, want refused", v, got)
		}
	}
}

// TestExportsAreBounded: two exports at once per person, six on a node;
// one ending frees its place.
func TestExportsAreBounded(t *testing.T) {
	var e exportSlots
	var dones []func()
	for i := 0; i < 2; i++ {
		d, err := e.take("a")
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, d)
	}
	if _, err := e.take("a"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("a third export of one person: %v", err)
	}
	for i := 0; i < 4; i++ {
		d, err := e.take(fmt.Sprint("p", i))
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, d)
	}
	if _, err := e.take("b"); !errors.Is(err, ErrBusy) || statusOf(err) != 503 {
		t.Fatalf("a seventh export on the node: %v", err)
	}
	dones[0]()
	dones[0]() // twice is once
	if d, err := e.take("a"); err != nil {
		t.Fatalf("after one ended: %v", err)
	} else {
		d()
	}
	if _, err := e.take("b"); err != nil { // the sixth place again
		t.Fatal(err)
	}
	if _, err := e.take("c"); !errors.Is(err, ErrBusy) {
		t.Fatalf("the node is full again: %v", err)
	}
}
