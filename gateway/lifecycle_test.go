package gateway

import (
	"testing"
	"time"

	"sharpeyes/camsim"
)

// TestStartsWithCamerasAlreadyThere: a gateway started on a registry that
// already holds an always-on, recorded camera pulls it, records it and
// raises its own events from the first moment, while the rest of the
// gateway is still starting. Under -race this is what found the follower
// wired after its goroutines had started (its recorder and event sink
// set while the watch and the membership callback read them).
func TestStartsWithCamerasAlreadyThere(t *testing.T) {
	dir := t.TempDir()
	fleet := startFleet(t, "127.0.0.1:0", camsim.Config{Cameras: 2})
	defer fleet.Close()
	env := []string{"SHARPEYES_DATA_DIR=" + dir}
	g := startGateway(t, env...)
	api := apiClient{t, "http://" + g.HTTPAddr()}
	for i := 1; i <= 2; i++ {
		id := []string{"", "early1", "early2"}[i]
		if code, out := api.json("POST", "/api/v1/cameras", map[string]any{"id": id, "name": id, "on_demand": false,
			"streams":   map[string]string{"main": fleet.URL(i, false), "sub": fleet.URL(i, true)},
			"recording": map[string]any{"mode": "continuous", "stream": "sub"}}); code != 201 {
			t.Fatalf("camera: %d %v", code, out)
		}
	}
	eventually(t, 15*time.Second, "both online", func() bool { return api.state("early1") == "online" && api.state("early2") == "online" })
	g.Close()
	for round := 0; round < 3; round++ {
		g := startGateway(t, env...)
		api := apiClient{t, "http://" + g.HTTPAddr()}
		eventually(t, 15*time.Second, "both online again", func() bool { return api.state("early1") == "online" && api.state("early2") == "online" })
		eventually(t, 15*time.Second, "recording again", func() bool { return g.Recordings().Writing("early1") })
		g.Close()
	}
}
