package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	done chan struct{}
	err  error
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
