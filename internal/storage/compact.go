package storage

import (
	"context"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Compact discards etcd history older than every interval: at each tick it compacts
// to the revision seen at the previous tick, so watches can always resume from any
// revision less than one interval old.
func (s *Storage) Compact(ctx context.Context, interval time.Duration) {
	var last int64
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, err := s.CurrentRevision(ctx)
		if err != nil {
			continue
		}
		if last > 0 {
			if err := s.CompactTo(ctx, last); err != nil {
				slog.Warn("etcd compaction failed", "revision", last, "err", err)
			}
		}
		last = cur
	}
}

// CompactTo compacts etcd history up to rev.
func (s *Storage) CompactTo(ctx context.Context, rev int64) error {
	_, err := s.client.Compact(ctx, rev)
	if err != nil && !isCompacted(err) {
		return err
	}
	slog.Debug("compacted etcd", "revision", rev)
	return nil
}

// leaseManager shares etcd leases between objects with a TTL, so that an event
// stream does not grant one lease per event.
type leaseManager struct {
	client *clientv3.Client
	mu     sync.Mutex
	id     clientv3.LeaseID
	ttl    int64
	expiry time.Time
}

// reuseWindow is how long one lease is handed out; objects may outlive their TTL by
// at most this much.
const reuseWindow = 60 * time.Second

func (m *leaseManager) get(ctx context.Context, ttl int64) (clientv3.LeaseID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.id != 0 && m.ttl == ttl && now.Before(m.expiry) {
		return m.id, nil
	}
	resp, err := m.client.Grant(ctx, ttl+int64(reuseWindow/time.Second))
	if err != nil {
		return 0, err
	}
	m.id, m.ttl, m.expiry = resp.ID, ttl, now.Add(reuseWindow)
	return m.id, nil
}
