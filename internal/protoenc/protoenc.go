// Package protoenc encodes Kubernetes objects as protobuf into one slice of exactly
// the right size. The protobuf serializers size an object before they write it; given
// an allocator and a writer that keeps the slice it receives, nothing grows or is
// copied, where a bytes.Buffer would grow and copy the encoding at least once.
package protoenc

import "k8s.io/apimachinery/pkg/runtime"

// Encode encodes obj with ser, leaving reserve zero bytes in front of the encoding
// (room for a length prefix, for instance).
func Encode(ser runtime.EncoderWithAllocator, obj runtime.Object, reserve int) ([]byte, error) {
	a := &reservingAllocator{reserve: reserve}
	var w captureWriter
	if err := ser.EncodeWithAllocator(obj, &w, a); err != nil {
		return nil, err
	}
	if len(w.writes) == 1 && len(w.writes[0]) > 0 && len(a.buf) > reserve && &w.writes[0][0] == &a.buf[reserve] {
		return a.buf[:reserve+len(w.writes[0])], nil
	}
	// Not the single write of the allocated slice: copy what was written.
	out := make([]byte, reserve)
	for _, p := range w.writes {
		out = append(out, p...)
	}
	return out, nil
}

// reservingAllocator allocates reserve extra bytes in front of each slice.
type reservingAllocator struct {
	reserve int
	buf     []byte
}

func (a *reservingAllocator) Allocate(n uint64) []byte {
	a.buf = make([]byte, a.reserve+int(n))
	return a.buf[a.reserve:]
}

// captureWriter keeps the slices written to it, without copying them.
type captureWriter struct{ writes [][]byte }

func (w *captureWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, p)
	return len(p), nil
}
