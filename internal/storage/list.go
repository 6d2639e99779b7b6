package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// ListOptions selects what a list returns.
type ListOptions struct {
	Namespace string
	Label     labels.Selector
	Field     fields.Selector
	// ResourceVersion: "" = consistent (latest), "0" = any, "N" = not older than N
	// (or exactly N with ResourceVersionMatch "Exact").
	ResourceVersion      string
	ResourceVersionMatch metav1.ResourceVersionMatch
	Limit                int64
	Continue             string
}

// ListResult is one page of a list.
type ListResult struct {
	Items []*Object
	// RV is the revision the page reflects.
	RV                 int64
	Continue           string
	RemainingItemCount *int64
}

type continueToken struct {
	Version string `json:"v"`
	RV      int64  `json:"rv"`
	Start   string `json:"start"`
}

const tokenVersion = "tug/v1"

func encodeContinue(rv int64, nextKey, prefix string) string {
	b, _ := json.Marshal(continueToken{Version: tokenVersion, RV: rv, Start: strings.TrimPrefix(nextKey, prefix)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s, prefix string) (rv int64, start string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", apierrors.NewBadRequest("continue token is not valid: it must be passed back exactly as the server returned it")
	}
	var t continueToken
	if err := json.Unmarshal(b, &t); err != nil || t.Version != tokenVersion || t.RV <= 0 {
		return 0, "", apierrors.NewBadRequest("continue token is not valid: it must be passed back exactly as the server returned it")
	}
	if strings.Contains(t.Start, "..") || strings.HasPrefix(t.Start, "/") {
		return 0, "", apierrors.NewBadRequest("continue token is not valid: bad start key")
	}
	return t.RV, prefix + t.Start, nil
}

// List returns the objects matching opts, one page at a time when opts.Limit is set.
// The first page comes from the cache; later pages read etcd at the first page's
// revision, so that all pages together are one consistent snapshot.
func (r *Resource) List(ctx context.Context, opts ListOptions) (*ListResult, error) {
	prefix := r.nsPrefix(opts.Namespace)
	if opts.Continue != "" {
		rv, start, err := decodeContinue(opts.Continue, prefix)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(start, prefix) {
			return nil, apierrors.NewBadRequest("continue token does not belong to this list")
		}
		return r.listEtcd(ctx, opts, prefix, start, rv)
	}
	if opts.ResourceVersionMatch == metav1.ResourceVersionMatchExact {
		rv, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
		if err != nil || rv <= 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("resourceVersionMatch=Exact needs a positive resourceVersion, not %q", opts.ResourceVersion))
		}
		return r.listEtcd(ctx, opts, prefix, prefix, rv)
	}
	if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
		if v, err := strconv.ParseInt(opts.ResourceVersion, 10, 64); err != nil || v < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q: must be a non-negative integer", opts.ResourceVersion))
		}
	}
	if err := r.s.cache.waitFresh(ctx, opts.ResourceVersion); err != nil {
		if _, ok := err.(tooLargeRV); ok {
			return nil, watchWaitError(err)
		}
		if err != errNotFresh {
			return nil, err
		}
		return r.listEtcd(ctx, opts, prefix, prefix, 0)
	}
	return r.s.cache.list(r, prefix, opts), nil
}

func (c *cache) list(r *Resource, prefix string, opts ListOptions) *ListResult {
	c.mu.RLock()
	defer c.mu.RUnlock()
	res := &ListResult{RV: c.rv}
	filtered := (opts.Label != nil && !opts.Label.Empty()) || (opts.Field != nil && !opts.Field.Empty())
	var last *Object
	more := false
	var remaining int64
	c.res[r].items.AscendGreaterOrEqual(&Object{Key: prefix}, func(o *Object) bool {
		if !strings.HasPrefix(o.Key, prefix) {
			return false
		}
		if !o.Matches(opts.Label, opts.Field) {
			return true
		}
		if opts.Limit > 0 && int64(len(res.Items)) >= opts.Limit {
			more = true
			if filtered {
				return false
			}
			remaining++
			return true
		}
		res.Items = append(res.Items, o)
		last = o
		return true
	})
	if more && last != nil {
		res.Continue = encodeContinue(res.RV, last.Key+"\x00", prefix)
		if !filtered {
			res.RemainingItemCount = &remaining
		}
	}
	return res
}

// listEtcd reads a page from etcd at revision rv (0 = latest), starting at key start.
func (r *Resource) listEtcd(ctx context.Context, opts ListOptions, prefix, start string, rv int64) (*ListResult, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	filtered := (opts.Label != nil && !opts.Label.Empty()) || (opts.Field != nil && !opts.Field.Empty())
	res := &ListResult{RV: rv}
	batch := opts.Limit + 1
	if batch <= 1 || batch > 1000 {
		batch = 1000
	}
	if filtered && batch < 100 {
		batch = 100
	}
	key := start
	var last *Object
	for {
		getOpts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(batch)}
		if res.RV != 0 {
			getOpts = append(getOpts, clientv3.WithRev(res.RV))
		}
		resp, err := r.s.client.Get(ctx, key, getOpts...)
		if err != nil {
			if isCompacted(err) {
				return nil, apierrors.NewResourceExpired(fmt.Sprintf("the list snapshot at resourceVersion %d is gone (etcd compacted it): start the list again without a continue token", rv))
			}
			return nil, storageUnavailable(err)
		}
		if res.RV == 0 {
			res.RV = resp.Header.Revision
		}
		for i, kv := range resp.Kvs {
			if opts.Limit > 0 && int64(len(res.Items)) >= opts.Limit {
				res.Continue = encodeContinue(res.RV, last.Key+"\x00", prefix)
				if !filtered {
					n := resp.Count - int64(i)
					res.RemainingItemCount = &n
				}
				return res, nil
			}
			o, err := r.decode(string(kv.Key), kv.Value, kv.ModRevision)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			if o.Matches(opts.Label, opts.Field) {
				res.Items = append(res.Items, o)
				last = o
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return res, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
