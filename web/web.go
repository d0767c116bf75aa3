// Package web is the browser UI: the live wall (camera list with status,
// 1/4/9/16 split, WHEP playback), embedded in the binary.
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
