package cri

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Event is one container lifecycle event from the runtime.
type Event struct {
	// ContainerID is the runtime's container (or sandbox) id.
	ContainerID string
	// Kind is one of the Event* constants.
	Kind string
}

// Event kinds.
const (
	EventCreated = "created"
	EventStarted = "started"
	EventExited  = "exited"
	EventOOM     = "oom"
	EventDeleted = "deleted"
)

// Watch calls fn for every container event until ctx ends or the stream
// breaks. It uses CRI's GetContainerEvents when the runtime has it, and
// otherwise containerd's own event service on the same socket (containerd 1.6
// has no CRI event stream), so the agent reacts to exits as they happen instead
// of polling.
func (c *Client) Watch(ctx context.Context, fn func(Event)) error {
	err := c.watchContainerd(ctx, fn)
	if s, ok := status.FromError(err); ok && s.Code() == codes.Unimplemented {
		return c.watchCRI(ctx, fn)
	}
	return err
}

func (c *Client) watchCRI(ctx context.Context, fn func(Event)) error {
	return c.Events(ctx, func(e *runtimeapi.ContainerEventResponse) {
		kind := ""
		switch e.ContainerEventType.String() {
		case "CONTAINER_CREATED_EVENT":
			kind = EventCreated
		case "CONTAINER_STARTED_EVENT":
			kind = EventStarted
		case "CONTAINER_STOPPED_EVENT":
			kind = EventExited
		case "CONTAINER_DELETED_EVENT":
			kind = EventDeleted
		}
		if kind != "" {
			fn(Event{ContainerID: e.ContainerId, Kind: kind})
		}
	})
}

// rawCodec passes protobuf bytes through untouched: the few containerd messages
// the agent needs are decoded by hand rather than pulling in containerd's API.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

var subscribeDesc = &grpc.StreamDesc{StreamName: "Subscribe", ServerStreams: true}

func (c *Client) watchContainerd(ctx context.Context, fn func(Event)) error {
	// SubscribeRequest{filters: ["namespace==k8s.io"]}
	req := protowire.AppendTag(nil, 1, protowire.BytesType)
	req = protowire.AppendString(req, `namespace==k8s.io`)
	stream, err := c.conn.NewStream(ctx, subscribeDesc, "/containerd.services.events.v1.Events/Subscribe", grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	if err := stream.SendMsg(&req); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	for {
		var msg []byte
		if err := stream.RecvMsg(&msg); err != nil {
			return err
		}
		if ev, ok := decodeEnvelope(msg); ok {
			fn(ev)
		}
	}
}

// decodeEnvelope reads a containerd event envelope (topic = 3, event Any = 4)
// and the container id of the task and container events the agent cares about.
func decodeEnvelope(b []byte) (Event, bool) {
	var topic string
	var payload []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return Event{}, false
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return Event{}, false
			}
			switch num {
			case 3:
				topic = string(v)
			case 4:
				payload = anyValue(v)
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return Event{}, false
		}
		b = b[m:]
	}
	var kind string
	switch topic {
	case "/tasks/start":
		kind = EventStarted
	case "/tasks/exit":
		kind = EventExited
	case "/tasks/oom":
		kind = EventOOM
	case "/containers/create":
		kind = EventCreated
	case "/containers/delete":
		kind = EventDeleted
	default:
		return Event{}, false
	}
	// Every one of these messages has the container id as field 1.
	id := stringField(payload, 1)
	if id == "" || strings.ContainsAny(id, "/ ") {
		return Event{}, false
	}
	// A task exit names the process too (field 2): an exec'd process (a probe,
	// a hook) ending is not the container ending.
	if kind == EventExited {
		if proc := stringField(payload, 2); proc != "" && proc != id {
			return Event{}, false
		}
	}
	return Event{ContainerID: id, Kind: kind}, true
}

// anyValue returns the value (field 2) of a google.protobuf.Any.
func anyValue(b []byte) []byte {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil
		}
		if num == 2 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			return v
		}
		b = b[m:]
	}
	return nil
}

func stringField(b []byte, field protowire.Number) string {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return ""
		}
		if num == field && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			return string(v)
		}
		b = b[m:]
	}
	return ""
}
