package openapi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"tug/internal/registry"
)

// Media types of the OpenAPI documents.
//
// Clients ask for protobuf with a '@' in the subtype, which the MIME grammar does
// not allow (Go's mime package, and so client-go, refuses to parse it), so the
// answer names the same type with a dot instead.
const (
	mediaJSON       = "application/json"
	mediaV2Proto    = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mediaV2ProtoDot = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mediaV3Proto    = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
	mediaV3ProtoDot = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
	mediaIndex      = "text/plain; charset=utf-8"
)

// gzipMin is the size from which answers are compressed for clients that accept it.
const gzipMin = 8 << 10

// blob is one served document: its JSON, hash, and the compressed and protobuf
// forms, made on first use.
type blob struct {
	json []byte
	hash string

	gzOnce sync.Once
	gz     []byte

	pbOnce sync.Once
	pb     *blob
	pbErr  error
}

func newBlob(b []byte) *blob { return &blob{json: b, hash: hashOf(b)} }

func (b *blob) gzipped() []byte {
	b.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		zw.Write(b.json)
		zw.Close()
		b.gz = buf.Bytes()
	})
	return b.gz
}

// protobuf returns the document in gnostic's protobuf form (v2 or v3).
func (b *blob) protobuf(v3 bool) (*blob, error) {
	b.pbOnce.Do(func() {
		var m proto.Message
		var err error
		if v3 {
			m, err = openapi_v3.ParseDocument(b.json)
		} else {
			m, err = openapi_v2.ParseDocument(b.json)
		}
		if err != nil {
			b.pbErr = err
			return
		}
		out, err := proto.Marshal(m)
		if err != nil {
			b.pbErr = err
			return
		}
		b.pb = &blob{json: out, hash: hashOf(out)}
	})
	return b.pb, b.pbErr
}

// Handler serves /openapi/v2 and /openapi/v3.
type Handler struct {
	docs *documents
	// BuildTime is how long building the documents took.
	BuildTime time.Duration
}

// New builds every OpenAPI document for the resources of set. version is the
// server version the documents name (v1.32.x).
func New(set *registry.Set, version string) (*Handler, error) {
	start := time.Now()
	docs, err := build(set, version)
	if err != nil {
		return nil, err
	}
	return &Handler{docs: docs, BuildTime: time.Since(start)}, nil
}

// Schemas returns the v2 definitions by name, for building the server-side apply
// type converter (managedfields.NewTypeConverter). Callers must not modify them.
func (h *Handler) Schemas() map[string]*spec.Schema {
	out := make(map[string]*spec.Schema, len(h.docs.defs))
	for name := range h.docs.defs {
		s := h.docs.defs[name]
		out[name] = &s
	}
	return out
}

// Size is the total size in bytes of the JSON documents (v2, index and every v3).
func (h *Handler) Size() int {
	n := len(h.docs.v2.json) + len(h.docs.index.json)
	for _, b := range h.docs.v3 {
		n += len(b.json)
	}
	return n
}

// ServeHTTP answers GET /openapi/v2, /openapi/v3 and /openapi/v3/<group version>.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case p == "/openapi/v2":
		h.serveV2(w, r)
	case p == "/openapi/v3":
		serveBlob(w, r, h.docs.index, mediaIndex, false)
	case strings.HasPrefix(p, "/openapi/v3/"):
		h.serveV3(w, r, strings.TrimPrefix(p, "/openapi/v3/"))
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) serveV2(w http.ResponseWriter, r *http.Request) {
	switch negotiate(r.Header.Get("Accept"), mediaJSON, mediaV2Proto, mediaV2ProtoDot) {
	case mediaJSON:
		serveBlob(w, r, h.docs.v2, mediaJSON, true)
	case mediaV2Proto, mediaV2ProtoDot:
		pb, err := h.docs.v2.protobuf(false)
		if err != nil {
			http.Error(w, "cannot encode the document as protobuf: "+err.Error(), http.StatusInternalServerError)
			return
		}
		serveBlob(w, r, pb, mediaV2ProtoDot, true)
	default:
		http.Error(w, "the document is available as "+mediaJSON+" or "+mediaV2Proto, http.StatusNotAcceptable)
	}
}

func (h *Handler) serveV3(w http.ResponseWriter, r *http.Request, key string) {
	doc, ok := h.docs.v3[key]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if hash := r.URL.Query().Get("hash"); hash != "" {
		if hash != doc.hash {
			// A client holding the index of an earlier server gets the current version.
			http.Redirect(w, r, "/openapi/v3/"+key+"?hash="+doc.hash, http.StatusMovedPermanently)
			return
		}
		// The URL names this exact content, so it may be cached for good.
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	}
	switch negotiate(r.Header.Get("Accept"), mediaJSON, mediaV3Proto, mediaV3ProtoDot) {
	case mediaJSON:
		serveBlob(w, r, doc, mediaJSON, true)
	case mediaV3Proto, mediaV3ProtoDot:
		pb, err := doc.protobuf(true)
		if err != nil {
			http.Error(w, "cannot encode the document as protobuf: "+err.Error(), http.StatusInternalServerError)
			return
		}
		serveBlob(w, r, pb, mediaV3ProtoDot, true)
	default:
		http.Error(w, "the document is available as "+mediaJSON+" or "+mediaV3Proto, http.StatusNotAcceptable)
	}
}

// serveBlob writes a document with its ETag, answering 304 to a matching
// If-None-Match and compressing when the client accepts gzip.
func serveBlob(w http.ResponseWriter, r *http.Request, b *blob, contentType string, varyAccept bool) {
	h := w.Header()
	etag := strconv.Quote(b.hash)
	h.Set("Etag", etag)
	vary := []string{"Accept-Encoding"}
	if varyAccept {
		vary = append([]string{"Accept"}, vary...)
	}
	h.Set("Vary", strings.Join(vary, ", "))
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentType)
	body := b.json
	if len(body) >= gzipMin && acceptsGzip(r) {
		body = b.gzipped()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, e := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(e), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") {
			return true
		}
	}
	return false
}

// negotiate picks, from the offers (the first is the default), the one the
// Accept header prefers; "" when it accepts none of them.
func negotiate(accept string, offers ...string) string {
	if strings.TrimSpace(accept) == "" {
		return offers[0]
	}
	type choice struct {
		media string
		q     float64
		pos   int
	}
	var cs []choice
	for i, part := range strings.Split(accept, ",") {
		// Parsed by hand: the protobuf media types contain '@', which the MIME
		// grammar does not allow in a token.
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		if mt == "" {
			continue
		}
		q := 1.0
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if strings.TrimSpace(k) == "q" {
				if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = x
				}
			}
		}
		if q > 0 {
			cs = append(cs, choice{mt, q, i})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].q > cs[j].q })
	for _, c := range cs {
		for _, o := range offers {
			if c.media == o {
				return o
			}
		}
		switch {
		case c.media == "*/*":
			return offers[0]
		case strings.HasSuffix(c.media, "/*"):
			for _, o := range offers {
				if strings.HasPrefix(o, strings.TrimSuffix(c.media, "*")) {
					return o
				}
			}
		}
	}
	return ""
}

func (h *Handler) String() string {
	return fmt.Sprintf("openapi: %d definitions, %d group versions, %d bytes, built in %s", len(h.docs.defs), len(h.docs.v3), h.Size(), h.BuildTime)
}
