package cri

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// envelope builds a containerd event envelope: topic (3) and an Any (4) whose
// value holds the string fields given by number.
func envelope(topic string, fields map[protowire.Number]string) []byte {
	var payload []byte
	for n := protowire.Number(1); n < 8; n++ {
		if v, ok := fields[n]; ok {
			payload = protowire.AppendTag(payload, n, protowire.BytesType)
			payload = protowire.AppendString(payload, v)
		}
	}
	// exit_status (varint) as in a real TaskExit, to be skipped.
	payload = protowire.AppendTag(payload, 4, protowire.VarintType)
	payload = protowire.AppendVarint(payload, 137)
	var any []byte
	any = protowire.AppendTag(any, 1, protowire.BytesType)
	any = protowire.AppendString(any, "containerd.events.TaskExit")
	any = protowire.AppendTag(any, 2, protowire.BytesType)
	any = protowire.AppendBytes(any, payload)
	var b []byte
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "k8s.io")
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, topic)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendBytes(b, any)
	return b
}

func TestDecodeEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name   string
		msg    []byte
		want   Event
		wantOK bool
	}{
		{"container exit", envelope("/tasks/exit", map[protowire.Number]string{1: "abc", 2: "abc"}), Event{"abc", EventExited}, true},
		{"exec exit is not a container exit", envelope("/tasks/exit", map[protowire.Number]string{1: "abc", 2: "exec-1"}), Event{}, false},
		{"oom", envelope("/tasks/oom", map[protowire.Number]string{1: "abc"}), Event{"abc", EventOOM}, true},
		{"start", envelope("/tasks/start", map[protowire.Number]string{1: "abc"}), Event{"abc", EventStarted}, true},
		{"container create", envelope("/containers/create", map[protowire.Number]string{1: "abc"}), Event{"abc", EventCreated}, true},
		{"image event ignored", envelope("/images/create", map[protowire.Number]string{1: "docker.io/x"}), Event{}, false},
		{"garbage", []byte{0xff, 0xff}, Event{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := decodeEnvelope(tc.msg)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestDialEndpoints(t *testing.T) {
	for ep, ok := range map[string]bool{"unix:///run/x.sock": true, "/run/x.sock": true, "tcp://1.2.3.4:1": false} {
		c, err := Dial(ep)
		if (err == nil) != ok {
			t.Errorf("%s: err %v", ep, err)
		}
		if c != nil {
			c.Close()
		}
	}
}
