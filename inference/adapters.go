package inference

import (
	"errors"
	"fmt"
	"sync"
)

// adapterWeights is an adapter in the layout the runner uploads: one entry per adapted module.
type adapterWeights struct {
	rank    int // the largest rank of any module
	modules []loraModule
}

// loraModule is one adapted projection: delta = ((x A^T) B^T) * scale.
type loraModule struct {
	layer   int
	target  string // q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj
	rank    int
	in, out int
	a       []float32 // [rank, in]
	b       []float32 // [out, rank]
	scale   float32
}

// adapterEntry is one loaded adapter.
type adapterEntry struct {
	name    string
	w       *adapterWeights
	slot    int   // device slot, 0 when not on the device
	refs    int   // running requests using it
	lastUse int64 // registry clock at the last acquire, for LRU
	removed bool  // unloaded while in use: cleared when the last request ends
}

// adapterRegistry holds the loaded adapters and decides which of them occupy the runner's
// bounded set of device slots, evicting the least recently used idle one when a request needs
// room. Loading and unloading happen on callers' goroutines; acquire and release on the scheduler's.
type adapterRegistry struct {
	mu     sync.Mutex
	byName map[string]*adapterEntry
	slots  []*adapterEntry // index 1..max; index 0 unused (slot 0 is "no adapter")
	clock  int64
	freed  []int // device slots emptied by unload or replace, to clear in the runner
}

func newAdapterRegistry(maxSlots int) *adapterRegistry {
	return &adapterRegistry{byName: map[string]*adapterEntry{}, slots: make([]*adapterEntry, maxSlots+1)}
}

// add registers w under name, replacing an adapter of that name that no request is using.
func (r *adapterRegistry) add(name string, w *adapterWeights) error {
	if name == "" {
		return fmt.Errorf("%w: the adapter name is empty", ErrInvalidAdapter)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byName[name]; ok {
		if old.refs > 0 {
			return fmt.Errorf("%w: adapter %q is loaded and in use by %d requests; unload it first or use another name",
				ErrInvalidAdapter, name, old.refs)
		}
		r.dropLocked(old)
	}
	r.byName[name] = &adapterEntry{name: name, w: w}
	return nil
}

// remove unloads name; requests already running with it finish first.
func (r *adapterRegistry) remove(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byName[name]
	if !ok {
		return fmt.Errorf("unload %q: %w", name, ErrUnknownAdapter)
	}
	delete(r.byName, name)
	if e.refs > 0 {
		e.removed = true
		return nil
	}
	r.dropLocked(e)
	return nil
}

// dropLocked frees e's device slot; the scheduler clears the runner's copy before its next step
// (clearFreed), so an unloaded adapter costs no compute.
func (r *adapterRegistry) dropLocked(e *adapterEntry) {
	if e.slot > 0 {
		r.slots[e.slot] = nil
		r.freed = append(r.freed, e.slot)
		e.slot = 0
	}
}

// clearFreed empties, in the runner, the device slots that unloads freed and nothing reused.
// Only the scheduler goroutine calls it.
func (r *adapterRegistry) clearFreed(run runner) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, slot := range r.freed {
		if r.slots[slot] == nil {
			errs = append(errs, run.setAdapter(slot, nil))
		}
	}
	r.freed = r.freed[:0]
	return errors.Join(errs...)
}

// has reports whether name is loaded.
func (r *adapterRegistry) has(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.byName[name]
	return ok
}

// names returns the loaded adapters' names.
func (r *adapterRegistry) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	return out
}

// acquire pins name on the device for one request and returns its device slot. It uploads the
// adapter when needed, evicting the least recently used idle adapter. ok is false (and err nil)
// when every slot is held by running requests: the request waits for one to finish.
func (r *adapterRegistry) acquire(name string, run runner) (entry *adapterEntry, ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, found := r.byName[name]
	if !found {
		return nil, false, fmt.Errorf("adapter %q: %w (it was unloaded)", name, ErrUnknownAdapter)
	}
	r.clock++
	if e.slot == 0 {
		slot := 0
		for i := 1; i < len(r.slots); i++ {
			if r.slots[i] == nil {
				slot = i
				break
			}
		}
		if slot == 0 {
			for i := 1; i < len(r.slots); i++ {
				if c := r.slots[i]; c.refs == 0 && (slot == 0 || c.lastUse < r.slots[slot].lastUse) {
					slot = i
				}
			}
			if slot == 0 {
				return nil, false, nil
			}
			r.slots[slot].slot = 0
			r.slots[slot] = nil
		}
		if err := run.setAdapter(slot, e.w); err != nil {
			return nil, false, fmt.Errorf("upload adapter %q: %w", name, err)
		}
		r.slots[slot] = e
		e.slot = slot
	}
	e.refs++
	e.lastUse = r.clock
	return e, true, nil
}

// release unpins e after a request ends.
func (r *adapterRegistry) release(e *adapterEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.refs--
	if e.removed && e.refs == 0 {
		r.dropLocked(e)
	}
}
