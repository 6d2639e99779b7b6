package podutil

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
)

// hashAlphabet avoids vowels (no words) and look-alike characters.
const hashAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// HashLength is the length of a TemplateHash.
const HashLength = 10

// TemplateHash is a short stable name-safe hash of obj (usually a pod template with
// any hash label removed): FNV-1a over its JSON encoding (map keys sorted), mixed
// with collisionCount when set, written in a 27-letter alphabet. Changing collision
// count gives a new hash when two templates collide.
func TemplateHash(obj interface{}, collisionCount *int32) string {
	b, err := json.Marshal(obj)
	if err != nil {
		// Every API type encodes; fall back to a constant rather than panic.
		b = []byte("unencodable")
	}
	h := fnv.New64a()
	h.Write(b)
	if collisionCount != nil {
		var c [4]byte
		binary.LittleEndian.PutUint32(c[:], uint32(*collisionCount))
		h.Write(c[:])
	}
	v := h.Sum64()
	out := make([]byte, HashLength)
	for i := range out {
		out[i] = hashAlphabet[v%uint64(len(hashAlphabet))]
		v /= uint64(len(hashAlphabet))
	}
	return string(out)
}
