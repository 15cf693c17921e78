package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// adapterCache loads fine-tuned adapters from Storage into the model on first use. Adapters are
// named "<tenant>/<job id>" in the engine, so two tenants' adapters never collide.
type adapterCache struct {
	s  *Server
	mu sync.Mutex
	// loading holds one entry per adapter being or already loaded; the channel closes when
	// the load ends, and err says how.
	loads map[string]*adapterLoad
}

type adapterLoad struct {
	done     chan struct{}
	err      error
	lastUsed time.Time // guarded by adapterCache.mu
}

func newAdapterCache(s *Server) *adapterCache {
	return &adapterCache{s: s, loads: map[string]*adapterLoad{}}
}

func adapterName(tenant, jobID string) string { return tenant + "/" + jobID }

// ensure loads the adapter of a succeeded job unless it is loaded, and returns its engine name.
// Concurrent callers share one load.
func (c *adapterCache) ensure(ctx context.Context, rec *jobRecord) (string, error) {
	name := adapterName(rec.Tenant, rec.Job.ID)
	c.mu.Lock()
	l, ok := c.loads[name]
	if !ok {
		l = &adapterLoad{done: make(chan struct{})}
		c.loads[name] = l
		go c.load(name, rec, l)
	}
	l.lastUsed = time.Now()
	c.mu.Unlock()
	select {
	case <-l.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if l.err != nil {
		c.mu.Lock()
		if c.loads[name] == l {
			delete(c.loads, name) // let a later request try again
		}
		c.mu.Unlock()
		return "", l.err
	}
	return name, nil
}

func (c *adapterCache) load(name string, rec *jobRecord, l *adapterLoad) {
	defer close(l.done)
	ctx := c.s.baseCtx
	dir := filepath.Join(c.s.workDir, "adapters", rec.Tenant, rec.Job.ID)
	if err := os.RemoveAll(dir); err != nil {
		l.err = err
		return
	}
	defer os.RemoveAll(dir) // the engine holds the weights once loaded
	if err := c.s.getDir(ctx, adapterKey(rec.Tenant, rec.Job.ID), dir); err != nil {
		l.err = fmt.Errorf("fetch adapter of %s: %w", rec.Job.ID, err)
		return
	}
	if err := c.s.model.LoadAdapter(ctx, name, dir); err != nil {
		l.err = fmt.Errorf("load adapter of %s: %w", rec.Job.ID, err)
		return
	}
	c.evict(name)
}

// evict unloads the least recently used adapters beyond MaxLoadedAdapters, never keep. An
// adapter in use by a request finishes that request first (the model's UnloadAdapter says so);
// a later request loads it again from Storage.
func (c *adapterCache) evict(keep string) {
	for {
		c.mu.Lock()
		if len(c.loads) <= c.s.opts.MaxLoadedAdapters {
			c.mu.Unlock()
			return
		}
		var oldest string
		var at time.Time
		for name, l := range c.loads {
			select {
			case <-l.done:
			default:
				continue // still loading
			}
			if name != keep && (oldest == "" || l.lastUsed.Before(at)) {
				oldest, at = name, l.lastUsed
			}
		}
		if oldest == "" {
			c.mu.Unlock()
			return
		}
		delete(c.loads, oldest)
		c.mu.Unlock()
		_ = c.s.model.UnloadAdapter(oldest)
	}
}

// forget unloads one adapter.
func (c *adapterCache) forget(tenant, jobID string) {
	name := adapterName(tenant, jobID)
	c.mu.Lock()
	l, ok := c.loads[name]
	delete(c.loads, name)
	c.mu.Unlock()
	if ok {
		<-l.done
		_ = c.s.model.UnloadAdapter(name)
	}
}

// forgetTenant unloads every adapter of tenant.
func (c *adapterCache) forgetTenant(tenant string) {
	c.mu.Lock()
	var names []string
	for name := range c.loads {
		if strings.HasPrefix(name, tenant+"/") {
			names = append(names, name)
		}
	}
	c.mu.Unlock()
	for _, n := range names {
		c.forget(tenant, strings.TrimPrefix(n, tenant+"/"))
	}
}
