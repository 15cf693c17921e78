package sectorflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sampleUsage(id string) Usage {
	return Usage{
		ID: id, Tenant: "acme", Kind: UsageInference, Model: "llama-3.2-1b", Adapter: "support-v2",
		PromptTokens: 120, CompletionTokens: 48, ComputeTime: 350 * time.Millisecond,
		Time: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
	}
}

func TestUsageValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Usage)
		wantErr string
	}{
		{"valid", func(*Usage) {}, ""},
		{"valid training", func(u *Usage) { u.Kind = UsageTraining; u.TrainedTokens = 9000 }, ""},
		{"valid cancelled", func(u *Usage) { u.Outcome = OutcomeCancelled }, ""},
		{"no tenant", func(u *Usage) { u.Tenant = "" }, "tenant is empty"},
		{"no id", func(u *Usage) { u.ID = "" }, "id is empty"},
		{"bad kind", func(u *Usage) { u.Kind = "embedding" }, `kind is "embedding", want "training" or "inference"`},
		{"negative prompt", func(u *Usage) { u.PromptTokens = -1 }, "prompt_tokens is -1"},
		{"negative completion", func(u *Usage) { u.CompletionTokens = -2 }, "completion_tokens is -2"},
		{"negative trained", func(u *Usage) { u.TrainedTokens = -3 }, "trained_tokens is -3"},
		{"negative compute", func(u *Usage) { u.ComputeTime = -time.Second }, "compute time is -1s"},
		{"bad outcome", func(u *Usage) { u.Outcome = "exploded" }, `outcome is "exploded"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := sampleUsage("req-1")
			tt.edit(&u)
			err := u.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidUsage)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		err  error
		want UsageOutcome
	}{
		{nil, OutcomeCompleted},
		{context.Canceled, OutcomeCancelled},
		{fmt.Errorf("generate: %w", context.DeadlineExceeded), OutcomeCancelled},
		{errors.New("out of memory"), OutcomeFailed},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, OutcomeOf(tt.err), "%v", tt.err)
	}
}

func TestMeterFunc(t *testing.T) {
	var got []Usage
	var m Meter = MeterFunc(func(_ context.Context, u Usage) error {
		got = append(got, u)
		return nil
	})
	require.NoError(t, m.Record(context.Background(), sampleUsage("a")))
	require.Equal(t, []Usage{sampleUsage("a")}, got)
}

// meters returns fresh instances of every Meter in this package that promises idempotency.
func meters(t *testing.T) map[string]func() Meter {
	return map[string]func() Meter{
		"memory": func() Meter { return NewMemoryMeter() },
		"jsonl": func() Meter {
			m, err := OpenJSONLMeter(context.Background(), filepath.Join(t.TempDir(), "usage.jsonl"), nil)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, m.Close()) })
			return m
		},
	}
}

// totalsOf sums what a meter holds, read back through its own reader.
func totalsOf(t *testing.T, m Meter, tenant string) UsageTotals {
	switch m := m.(type) {
	case *MemoryMeter:
		return m.Totals(tenant)
	case *JSONLMeter:
		f, err := os.Open(m.Path())
		require.NoError(t, err)
		defer f.Close()
		var tot UsageTotals
		for u, err := range ReadUsageLog(f) {
			require.NoError(t, err)
			if u.Tenant == tenant {
				tot.add(u)
			}
		}
		return tot
	}
	t.Fatalf("unknown meter %T", m)
	return UsageTotals{}
}

// TestPromiseUsageRecordedExactlyOnce: every job and request records its usage exactly once,
// even when Record is retried, raced, or called again with a fresh timestamp.
func TestPromiseUsageRecordedExactlyOnce(t *testing.T) {
	ctx := context.Background()
	for name, newMeter := range meters(t) {
		t.Run(name, func(t *testing.T) {
			m := newMeter()
			// 20 distinct requests, each recorded by 8 goroutines at once.
			var wg sync.WaitGroup
			errs := make(chan error, 20*8)
			for i := range 20 {
				for range 8 {
					wg.Go(func() {
						u := sampleUsage(fmt.Sprintf("req-%d", i))
						u.Time = time.Now() // a retry carries a fresh timestamp
						errs <- m.Record(ctx, u)
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			// The same id under another kind or tenant is another record.
			train := sampleUsage("req-0")
			train.Kind, train.PromptTokens, train.CompletionTokens, train.TrainedTokens = UsageTraining, 0, 0, 5000
			require.NoError(t, m.Record(ctx, train))
			other := sampleUsage("req-0")
			other.Tenant = "globex"
			require.NoError(t, m.Record(ctx, other))

			got := totalsOf(t, m, "acme")
			require.Equal(t, UsageTotals{
				Jobs: 1, Requests: 20, PromptTokens: 20 * 120, CompletionTokens: 20 * 48,
				TrainedTokens: 5000, ComputeTime: 21 * 350 * time.Millisecond,
			}, got)
			require.Equal(t, int64(1), totalsOf(t, m, "globex").Requests)

			// A conflicting duplicate is refused and changes nothing.
			changed := sampleUsage("req-3")
			changed.CompletionTokens = 49
			err := m.Record(ctx, changed)
			require.ErrorIs(t, err, ErrUsageConflict)
			require.ErrorContains(t, err, "completion_tokens was 48, now 49")
			require.Equal(t, got, totalsOf(t, m, "acme"))
		})
	}
}

func TestMeterRejectsInvalidAndCancelled(t *testing.T) {
	for name, newMeter := range meters(t) {
		t.Run(name, func(t *testing.T) {
			m := newMeter()
			bad := sampleUsage("x")
			bad.Tenant = ""
			require.ErrorIs(t, m.Record(context.Background(), bad), ErrInvalidUsage)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			require.ErrorIs(t, m.Record(ctx, sampleUsage("y")), context.Canceled)
			require.Equal(t, UsageTotals{}, totalsOf(t, m, "acme"))
		})
	}
}

func TestMemoryMeterReadBack(t *testing.T) {
	m := NewMemoryMeter()
	ctx := context.Background()
	a := sampleUsage("a")
	a.Time = time.Time{}
	require.NoError(t, m.Record(ctx, a))
	b := sampleUsage("b")
	b.Tenant = "globex"
	require.NoError(t, m.Record(ctx, b))
	require.Equal(t, []string{"acme", "globex"}, m.Tenants())
	recs := m.Records("acme")
	require.Len(t, recs, 1)
	require.False(t, recs[0].Time.IsZero(), "Record fills a zero timestamp")
	require.Len(t, m.Records(""), 2)
	require.Equal(t, UsageTotals{}, m.Totals("nobody"))
}

// TestPromiseUsageSurvivesRestart: committed records are read back after a restart and stay
// idempotent across it.
func TestPromiseUsageSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usage.jsonl")
	m, err := OpenJSONLMeter(ctx, path, nil)
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, m.Record(ctx, sampleUsage(fmt.Sprintf("r%d", i))))
	}
	require.NoError(t, m.Close())
	require.Error(t, m.Record(ctx, sampleUsage("late")), "record after close")

	m, err = OpenJSONLMeter(ctx, path, nil)
	require.NoError(t, err)
	defer m.Close()
	require.Nil(t, m.TornTail())
	require.NoError(t, m.Record(ctx, sampleUsage("r1")), "a retry after restart is a no-op")
	require.NoError(t, m.Record(ctx, sampleUsage("r3")))
	require.Equal(t, UsageTotals{Requests: 4, PromptTokens: 480, CompletionTokens: 192,
		ComputeTime: 4 * 350 * time.Millisecond}, totalsOf(t, m, "acme"))

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var ids []string
	for u, err := range ReadUsageLog(f) {
		require.NoError(t, err)
		ids = append(ids, u.ID)
		require.Equal(t, sampleUsage(u.ID), u, "round trip keeps every field")
	}
	require.Equal(t, []string{"r0", "r1", "r2", "r3"}, ids)
}

// TestPromiseUsageLogCrashLosesOnlyTornLine: a crash in the middle of a write loses at most the
// line being written; earlier lines stay, the repair is reported, and new records append cleanly.
func TestPromiseUsageLogCrashLosesOnlyTornLine(t *testing.T) {
	ctx := context.Background()
	for _, torn := range []string{`{"id":"r2","ten`, `{"id":"r2","tenant":"acme","kind":"inference"}`, "\x00\x00\x00\x00"} {
		t.Run(fmt.Sprintf("%.12q", torn), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usage.jsonl")
			m, err := OpenJSONLMeter(ctx, path, nil)
			require.NoError(t, err)
			require.NoError(t, m.Record(ctx, sampleUsage("r0")))
			require.NoError(t, m.Record(ctx, sampleUsage("r1")))
			require.NoError(t, m.Close())
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			// The crash: part of a line, no newline.
			require.NoError(t, os.WriteFile(path, append(bytes.Clone(before), torn...), 0o600))

			var logs bytes.Buffer
			m, err = OpenJSONLMeter(ctx, path, &JSONLMeterOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			defer m.Close()
			require.Equal(t, &TornTail{Line: 3, Offset: int64(len(before)), Bytes: int64(len(torn))}, m.TornTail())
			require.Contains(t, logs.String(), "usage log repaired")
			require.Contains(t, logs.String(), "torn_line=3")
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, before, after, "earlier lines intact, torn line cut")

			require.NoError(t, m.Record(ctx, sampleUsage("r2")), "the retried record is billed once")
			require.Equal(t, int64(3), totalsOf(t, m, "acme").Requests)
		})
	}
}

// TestUsageLogCorruptLineNamesLine: a corrupted line in the middle is a clear error naming the
// line, both when opening the meter (which leaves the file untouched) and when reading it back.
func TestUsageLogCorruptLineNamesLine(t *testing.T) {
	good := `{"id":"r0","tenant":"acme","kind":"inference","prompt_tokens":1,"completion_tokens":2,"trained_tokens":0,"compute_ns":5,"time":"2026-11-29T12:00:00Z"}` + "\n"
	tests := []struct {
		name     string
		log      string
		wantLine int
		want     string
	}{
		{"garbage", good + "#!garbage\n" + good, 2, "want a JSON object"},
		{"bad json", good + good + `{"id":"r1",` + "\n" + good, 3, "want a JSON usage record"},
		{"wrong type", `{"id":"r1","tenant":"acme","kind":"inference","prompt_tokens":"many"}` + "\n", 1, "want a JSON usage record"},
		{"invalid record", good + `{"id":"r1","tenant":"acme","kind":"inference","prompt_tokens":-5}` + "\n", 2, "prompt_tokens is -5"},
		{"two objects", good + strings.TrimSuffix(good, "\n") + good, 2, "want one JSON object per line"},
		{"too long", good + `{"id":"` + strings.Repeat("x", maxUsageLine) + "\"}\n", 2, "line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ule *UsageLogError
			var n int
			var err error
			for _, err = range ReadUsageLog(strings.NewReader(tt.log)) {
				if err != nil {
					break
				}
				n++
			}
			require.ErrorIs(t, err, ErrCorruptUsageLog)
			require.True(t, errors.As(err, &ule))
			require.Equal(t, tt.wantLine, ule.Line)
			require.Equal(t, tt.wantLine-1, n, "records before the bad line are read")
			require.ErrorContains(t, err, fmt.Sprintf("usage log line %d", tt.wantLine))
			require.ErrorContains(t, err, tt.want)

			path := filepath.Join(t.TempDir(), "usage.jsonl")
			require.NoError(t, os.WriteFile(path, []byte(tt.log), 0o600))
			_, err = OpenJSONLMeter(context.Background(), path, nil)
			require.ErrorIs(t, err, ErrCorruptUsageLog)
			require.ErrorContains(t, err, fmt.Sprintf("line %d", tt.wantLine))
			after, rerr := os.ReadFile(path)
			require.NoError(t, rerr)
			require.Equal(t, tt.log, string(after), "a corrupt log is never rewritten")
		})
	}
}

func TestReadUsageLogSkipsBlankAndTorn(t *testing.T) {
	log := "\n" + `{"id":"r0","tenant":"acme","kind":"training","trained_tokens":7,"future_field":true}` + "\n\n" + `{"id":"r1","tena`
	var got []Usage
	for u, err := range ReadUsageLog(strings.NewReader(log)) {
		require.NoError(t, err)
		got = append(got, u)
	}
	require.Equal(t, []Usage{{ID: "r0", Tenant: "acme", Kind: UsageTraining, TrainedTokens: 7}}, got)
}

func FuzzReadUsageLog(f *testing.F) {
	f.Add([]byte(`{"id":"r0","tenant":"acme","kind":"inference","prompt_tokens":1}` + "\n"))
	f.Add([]byte("{\n}\n{\"id\":1}\n"))
	f.Add([]byte(`{"id":"a","tenant":"t","kind":"training","time":"not a time"}` + "\n" + `{"x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		for u, err := range ReadUsageLog(bytes.NewReader(data)) {
			if err != nil {
				var ule *UsageLogError
				if errors.As(err, &ule) && (ule.Line < 1 || ule.Offset < 0 || ule.Offset > int64(len(data))) {
					t.Fatalf("error locates line %d offset %d in %d bytes", ule.Line, ule.Offset, len(data))
				}
				break
			}
			if err := u.Validate(); err != nil {
				t.Fatalf("reader yielded an invalid record: %v", err)
			}
			n++
		}
		if n > bytes.Count(data, []byte("\n")) {
			t.Fatalf("%d records from %d lines", n, bytes.Count(data, []byte("\n")))
		}
	})
}

func BenchmarkMemoryMeterRecord(b *testing.B) {
	m := NewMemoryMeter()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if err := m.Record(ctx, sampleUsage(fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONLMeterRecord(b *testing.B) {
	ctx := context.Background()
	m, err := OpenJSONLMeter(ctx, filepath.Join(b.TempDir(), "usage.jsonl"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	i := 0
	for b.Loop() {
		i++
		if err := m.Record(ctx, sampleUsage(fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
}

func TestJSONLMeterOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenJSONLMeter(context.Background(), dir, nil)
	require.ErrorContains(t, err, "open usage log")
	_, err = OpenJSONLMeter(context.Background(), filepath.Join(dir, "missing", "usage.jsonl"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = OpenJSONLMeter(ctx, filepath.Join(dir, "usage.jsonl"), nil)
	require.ErrorIs(t, err, context.Canceled)
}

// TestJSONLMeterWriteFailureRefusesMore: when a write fails and the partial line cannot be cut
// off, the meter refuses further records instead of appending after garbage.
func TestJSONLMeterWriteFailureRefusesMore(t *testing.T) {
	ctx := context.Background()
	m, err := OpenJSONLMeter(ctx, filepath.Join(t.TempDir(), "usage.jsonl"), nil)
	require.NoError(t, err)
	require.NoError(t, m.Record(ctx, sampleUsage("ok")))
	require.NoError(t, m.f.Close()) // the file goes away under the meter
	err = m.Record(ctx, sampleUsage("lost"))
	require.ErrorContains(t, err, "append to")
	err = m.Record(ctx, sampleUsage("later"))
	require.ErrorContains(t, err, "unusable after an earlier failure")
	require.ErrorIs(t, m.Record(ctx, sampleUsage("ok")), nil, "a committed key is still a no-op")
}
