package storage

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestEmbeddedPortTakenMeanwhile: a port that was free when picked but is taken
// when etcd binds it makes the start pick other ports, not fail.
func TestEmbeddedPortTakenMeanwhile(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls <= 2 {
			return busy.Addr().(*net.TCPAddr).Port, nil
		}
		return freeLoopbackPort()
	}
	defer func() { pickPort = freeLoopbackPort }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := StartEmbedded(ctx, EmbeddedConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if calls < 4 {
		t.Fatalf("ports picked %d times, want a second pair after the taken one", calls)
	}
	if _, err := e.Client.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
}
