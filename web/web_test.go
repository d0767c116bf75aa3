package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestPagesKeepToTheirPolicy reads every page and script of the UI (not
// the vendored Leaflet): no inline script, inline event handler or style
// attribute in the HTML (the CSP would block them), and no script that
// turns strings into markup or code. What users write reaches the page
// through h() and text nodes only.
func TestPagesKeepToTheirPolicy(t *testing.T) {
	inlineScript := regexp.MustCompile(`(?is)<script\b[^>]*>\s*[^<\s]`)
	scriptTag := regexp.MustCompile(`(?is)<script\b([^>]*)>`)
	handlerAttr := regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	styleAttr := regexp.MustCompile(`(?i)\sstyle\s*=`)
	markup := regexp.MustCompile(`\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*['"]on|setAttribute\(\s*['"](style|href|src)['"]|createContextualFragment|DOMParser`)
	// Leaflet turns a string tooltip or popup into HTML: only elements
	// made with h() go in.
	leafletCall := regexp.MustCompile(`(bindTooltip|bindPopup|setTooltipContent|setPopupContent|setContent)\(\s*`)
	n := 0
	err := fs.WalkDir(FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path, "assets/vendor/") {
			return err
		}
		b, err := fs.ReadFile(FS(), path)
		if err != nil {
			return err
		}
		src := string(b)
		switch {
		case strings.HasSuffix(path, ".html"):
			n++
			if inlineScript.MatchString(src) {
				t.Errorf("%s has an inline script", path)
			}
			for _, m := range scriptTag.FindAllStringSubmatch(src, -1) {
				if !strings.Contains(m[1], "src=") {
					t.Errorf("%s has a <script> without src", path)
				}
			}
			if handlerAttr.MatchString(src) {
				t.Errorf("%s has an inline event handler", path)
			}
			if styleAttr.MatchString(src) || strings.Contains(strings.ToLower(src), "<style") {
				t.Errorf("%s has inline style", path)
			}
		case strings.HasSuffix(path, ".js"):
			n++
			for i, line := range strings.Split(src, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "//") {
					continue
				}
				if m := markup.FindString(line); m != "" {
					t.Errorf("%s:%d turns a string into markup or code (%s): %s", path, i+1, m, strings.TrimSpace(line))
				}
				for _, at := range leafletCall.FindAllStringIndex(line, -1) {
					if !strings.HasPrefix(line[at[1]:], "h(") {
						t.Errorf("%s:%d gives Leaflet something other than an element, which it may show as HTML: %s", path, i+1, strings.TrimSpace(line))
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("read %d pages and scripts; the UI has more", n)
	}
}
