package apiserver

import (
	"net/http"

	"tug/internal/registry"
)

// serveApply answers server-side apply patches.
func (s *Server) serveApply(w http.ResponseWriter, r *http.Request, info *requestInfo, res *registry.Resource, op *writeOp, body []byte) {
	writeError(w, r, unsupportedMedia("application/apply-patch+yaml (server-side apply is not supported yet; use client-side kubectl apply)"))
}
