package openapi

import (
	"log/slog"
	"net/http"
	"sync"

	"k8s.io/kube-openapi/pkg/validation/spec"

	"tug/internal/registry"
)

// Lazy builds the documents on first use, so that a server nobody asks for OpenAPI
// (or writes to) does not hold them in memory.
type Lazy struct {
	set     *registry.Set
	version string
	once    sync.Once
	h       *Handler
	err     error
}

// NewLazy returns a handler that builds the documents of set on first use.
func NewLazy(set *registry.Set, version string) *Lazy {
	return &Lazy{set: set, version: version}
}

func (l *Lazy) get() (*Handler, error) {
	l.once.Do(func() {
		l.h, l.err = New(l.set, l.version)
		if l.err == nil {
			slog.Info("openapi documents built", "took", l.h.BuildTime, "bytes", l.h.Size())
		} else {
			slog.Error("building the openapi documents failed", "err", l.err)
		}
	})
	return l.h, l.err
}

// ServeHTTP serves the documents, building them first if needed.
func (l *Lazy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := l.get()
	if err != nil {
		http.Error(w, "the OpenAPI documents could not be built: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h.ServeHTTP(w, r)
}

// Schemas returns the v2 definitions (see Handler.Schemas). When the documents have
// not been built, only the definitions are, and they are not kept.
func (l *Lazy) Schemas() map[string]*spec.Schema {
	return Definitions(l.set)
}
