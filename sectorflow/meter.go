package sectorflow

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Meter receives usage for billing. Record is called once per job or request when the work has
// ended (see Usage for exactly when and with what); implementations must be safe for concurrent
// use and should be idempotent on (Tenant, Kind, ID) so that a retried call cannot bill twice.
//
// A Record error means the usage may not have been stored: the caller retries or reports it, and
// never drops it silently.
type Meter interface {
	Record(ctx context.Context, u Usage) error
}

// MeterFunc adapts a function to the Meter interface.
type MeterFunc func(ctx context.Context, u Usage) error

// Record calls f(ctx, u).
func (f MeterFunc) Record(ctx context.Context, u Usage) error { return f(ctx, u) }

// MemoryMeter sums usage per tenant in memory. It is safe for concurrent use and idempotent: a
// second Record of the same (Tenant, Kind, ID) with the same counts is a no-op, and with other
// counts it returns ErrUsageConflict and changes nothing. It remembers every key it has seen, so
// it suits tests, examples and single processes whose totals are read before they exit.
type MemoryMeter struct {
	mu     sync.Mutex
	seen   map[usageKey]Usage
	totals map[string]*UsageTotals
}

// NewMemoryMeter returns an empty MemoryMeter.
func NewMemoryMeter() *MemoryMeter {
	return &MemoryMeter{seen: map[usageKey]Usage{}, totals: map[string]*UsageTotals{}}
}

// Record validates u and adds it to its tenant's totals unless the same record was already added.
func (m *MemoryMeter) Record(ctx context.Context, u Usage) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	if err := u.Validate(); err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	if u.Time.IsZero() {
		u.Time = time.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, ok := m.seen[u.key()]; ok {
		if err := sameBilling(prev, u); err != nil {
			return fmt.Errorf("record usage: %w", err)
		}
		return nil
	}
	m.seen[u.key()] = u
	t := m.totals[u.Tenant]
	if t == nil {
		t = &UsageTotals{}
		m.totals[u.Tenant] = t
	}
	t.add(u)
	return nil
}

// Totals returns the sums recorded for tenant; the zero UsageTotals when it has none.
func (m *MemoryMeter) Totals(tenant string) UsageTotals {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.totals[tenant]; t != nil {
		return *t
	}
	return UsageTotals{}
}

// Tenants returns the tenants with at least one record, sorted.
func (m *MemoryMeter) Tenants() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.totals))
	for n := range m.totals {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Records returns the records of tenant in no particular order (all tenants when tenant is "").
func (m *MemoryMeter) Records(tenant string) []Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Usage
	for k, u := range m.seen {
		if tenant == "" || k.tenant == tenant {
			out = append(out, u)
		}
	}
	return out
}
