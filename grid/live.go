package grid

import "sync/atomic"

// Live holds the index in force; readers never wait for an import.
type Live struct {
	ix      atomic.Pointer[Index]
	version atomic.Pointer[string]
}

// Index returns the current index (empty before the first import).
func (l *Live) Index() *Index {
	if ix := l.ix.Load(); ix != nil {
		return ix
	}
	return NewIndex(nil)
}

// Version is the current set's version ("" before the first import).
func (l *Live) Version() string {
	if v := l.version.Load(); v != nil {
		return *v
	}
	return ""
}

// Set swaps in a new index.
func (l *Live) Set(version string, cells []Cell) {
	l.ix.Store(NewIndex(cells))
	l.version.Store(&version)
}
