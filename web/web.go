// Package web is the browser UI, embedded in the binary: the command
// centre's page (live wall with tours and alarms, camera tree with each
// camera's state and GB/T 28181 devices, superior platforms' status, 回放
// playback on every tile, map, case desk with evidence clips, reviews,
// notifications) and the grid worker's phone view (/m/).
// Plain ES modules, no build step; Leaflet is vendored. Every string a
// person, device or integrator wrote is put into the page as text (DOM
// text nodes), never as HTML, and the pages keep to the gateway's
// Content-Security-Policy: no inline script, style or event handlers.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// FS is the UI's file tree, rooted at index.html.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}
