package sectorflow

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// maxUsageLine bounds one line of a usage log; real records are a few hundred bytes.
const maxUsageLine = 64 << 10

// ErrCorruptUsageLog reports a usage log line that is not a valid record. Errors wrapping it are
// *UsageLogError values naming the line.
var ErrCorruptUsageLog = errors.New("corrupt usage log")

// UsageLogError locates a bad line in a usage log.
type UsageLogError struct {
	// Line is the 1-based line number.
	Line int
	// Offset is the byte offset where the line starts.
	Offset int64
	// Reason says what was expected and what was found.
	Reason string
}

// Error implements error.
func (e *UsageLogError) Error() string {
	return fmt.Sprintf("usage log line %d (byte %d): %s", e.Line, e.Offset, e.Reason)
}

// Unwrap returns ErrCorruptUsageLog, so errors.Is(err, ErrCorruptUsageLog) holds.
func (e *UsageLogError) Unwrap() error { return ErrCorruptUsageLog }

// TornTail describes an incomplete last line that OpenJSONLMeter found and cut off: what a crash
// in the middle of a Record leaves. That Record never returned success, so no committed usage is
// lost; its caller saw an error (or died) and retries under the same ID.
type TornTail struct {
	// Line is the 1-based number of the torn line.
	Line int
	// Offset is where the torn line started; the file was truncated to this size.
	Offset int64
	// Bytes is how many bytes were cut off.
	Bytes int64
}

// String describes the repair for a log.
func (t TornTail) String() string {
	return fmt.Sprintf("line %d: cut %d bytes of an incomplete record at byte %d (a write interrupted by a crash)",
		t.Line, t.Bytes, t.Offset)
}

// JSONLMeterOptions configures OpenJSONLMeter; nil means the defaults.
type JSONLMeterOptions struct {
	// Logger receives the report of a torn tail repaired on open. Default: discard.
	Logger *slog.Logger
}

// JSONLMeter appends one JSON line per Usage record to a file and fsyncs it before Record
// returns, so that a record is committed (survives a crash) exactly when Record returns nil. It
// is idempotent on (Tenant, Kind, ID) across restarts: OpenJSONLMeter reads the log back and a
// repeated Record of a committed key writes nothing. It keeps every key of the log in memory
// (about a hundred bytes a record), so rotate to a new file per billing period. Safe for
// concurrent use by one process; two processes must not append to the same file.
//
// Format: UTF-8 JSON objects (the json tags of Usage), one per line, each ending in "\n". A line
// without its "\n" is not committed.
type JSONLMeter struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	size   int64
	seen   map[usageKey]Usage
	torn   *TornTail
	broken error
}

// OpenJSONLMeter opens (creating when absent) the usage log at path. It reads every record back:
// a line in the middle that is not a valid record makes it fail with a *UsageLogError naming the
// line, and the file is left untouched. An incomplete last line (a crash during a write) is
// truncated away and reported through TornTail and the options' Logger.
func OpenJSONLMeter(ctx context.Context, path string, opts *JSONLMeterOptions) (*JSONLMeter, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open usage log %s: %w", path, err)
	}
	logger := slog.New(slog.DiscardHandler)
	if opts != nil && opts.Logger != nil {
		logger = opts.Logger
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open usage log: %w", err)
	}
	if created {
		// Make the new file's directory entry durable too.
		if err := meterSyncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("open usage log %s: %w", path, err)
		}
	}
	m := &JSONLMeter{f: f, path: path, seen: map[usageKey]Usage{}}
	var committed int64
	for rec, err := range scanUsageLog(f, func(t TornTail) { m.torn = &t }) {
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("open usage log %s: %w", path, err)
		}
		if _, dup := m.seen[rec.u.key()]; !dup {
			m.seen[rec.u.key()] = rec.u
		}
	}
	if m.torn != nil {
		committed = m.torn.Offset
		if err := f.Truncate(committed); err != nil {
			f.Close()
			return nil, fmt.Errorf("open usage log %s: cut torn %s: %w", path, m.torn, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("open usage log %s: %w", path, err)
		}
		logger.Warn("usage log repaired", "path", path, "torn_line", m.torn.Line,
			"offset", m.torn.Offset, "bytes_cut", m.torn.Bytes,
			"reason", "incomplete last record from an interrupted write; earlier records intact")
	} else {
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("open usage log %s: %w", path, err)
		}
		committed = info.Size()
	}
	m.size = committed
	return m, nil
}

// TornTail returns the incomplete last line cut off when the log was opened, or nil when the log
// was clean.
func (m *JSONLMeter) TornTail() *TornTail {
	if m.torn == nil {
		return nil
	}
	t := *m.torn
	return &t
}

// Path returns the log's file name.
func (m *JSONLMeter) Path() string { return m.path }

// Record appends u as one line and fsyncs the file. A repeated key with the same counts returns
// nil without writing; with other counts it returns ErrUsageConflict. If the write or the fsync
// fails, the partial line is cut off again so that later records start on a clean line; if even
// that fails the meter refuses further records rather than risk a corrupt log.
func (m *JSONLMeter) Record(ctx context.Context, u Usage) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	if err := u.Validate(); err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	if u.Time.IsZero() {
		u.Time = time.Now()
	}
	u.Time = u.Time.UTC()
	line, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("record usage: encode: %w", err)
	}
	line = append(line, '\n')
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return fmt.Errorf("record usage: %s: %w", m.path, os.ErrClosed)
	}
	if prev, ok := m.seen[u.key()]; ok {
		if err := sameBilling(prev, u); err != nil {
			return fmt.Errorf("record usage: %w", err)
		}
		return nil
	}
	if m.broken != nil {
		return fmt.Errorf("record usage: log unusable after an earlier failure: %w", m.broken)
	}
	_, werr := m.f.Write(line)
	if werr == nil {
		werr = m.f.Sync()
	}
	if werr != nil {
		if terr := m.f.Truncate(m.size); terr != nil {
			m.broken = fmt.Errorf("write failed (%w) and cutting the partial line failed (%w)", werr, terr)
		}
		return fmt.Errorf("record usage: append to %s: %w", m.path, werr)
	}
	m.size += int64(len(line))
	m.seen[u.key()] = u
	return nil
}

// Close closes the file. Records after Close fail.
func (m *JSONLMeter) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return nil
	}
	err := m.f.Close()
	m.f = nil
	if err != nil {
		return fmt.Errorf("close usage log %s: %w", m.path, err)
	}
	return nil
}

// ReadUsageLog reads the records of a usage log written by JSONLMeter, in order. A line that is
// not a valid record yields a *UsageLogError naming it (and stops); an incomplete last line,
// which was never committed, is skipped. Blank lines are skipped. Fields this version does not
// know are ignored, so newer writers stay readable.
func ReadUsageLog(r io.Reader) iter.Seq2[Usage, error] {
	return func(yield func(Usage, error) bool) {
		for rec, err := range scanUsageLog(r, nil) {
			if !yield(rec.u, err) || err != nil {
				return
			}
		}
	}
}

// usageRecord is one parsed line.
type usageRecord struct {
	u Usage
}

// scanUsageLog parses a usage log line by line. An unterminated last line is reported to torn
// (when not nil) instead of being parsed.
func scanUsageLog(r io.Reader, torn func(TornTail)) iter.Seq2[usageRecord, error] {
	return func(yield func(usageRecord, error) bool) {
		br := bufio.NewReaderSize(r, maxUsageLine+1)
		var off int64
		for lineNo := 1; ; lineNo++ {
			line, err := br.ReadSlice('\n')
			switch {
			case errors.Is(err, bufio.ErrBufferFull):
				yield(usageRecord{}, &UsageLogError{Line: lineNo, Offset: off,
					Reason: fmt.Sprintf("line longer than %d bytes; records are one short JSON object per line", maxUsageLine)})
				return
			case errors.Is(err, io.EOF):
				if len(line) > 0 && torn != nil {
					torn(TornTail{Line: lineNo, Offset: off, Bytes: int64(len(line))})
				}
				return
			case err != nil:
				yield(usageRecord{}, fmt.Errorf("read usage log line %d: %w", lineNo, err))
				return
			}
			start := off
			off += int64(len(line))
			body := bytes.TrimSpace(line)
			if len(body) == 0 {
				continue
			}
			u, perr := parseUsageLine(body)
			if perr != nil {
				yield(usageRecord{}, &UsageLogError{Line: lineNo, Offset: start, Reason: perr.Error()})
				return
			}
			if !yield(usageRecord{u: u}, nil) {
				return
			}
		}
	}
}

// parseUsageLine decodes and validates one record.
func parseUsageLine(body []byte) (Usage, error) {
	if body[0] != '{' {
		return Usage{}, fmt.Errorf("want a JSON object, found %q", usageSnippet(body))
	}
	var u Usage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&u); err != nil {
		return Usage{}, fmt.Errorf("want a JSON usage record: %v (found %q)", err, usageSnippet(body))
	}
	if dec.More() {
		return Usage{}, fmt.Errorf("want one JSON object per line, found more after it: %q", usageSnippet(body))
	}
	if err := u.Validate(); err != nil {
		return Usage{}, err
	}
	return u, nil
}

func usageSnippet(b []byte) string {
	const n = 80
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// meterSyncDir fsyncs a directory so that a file created in it survives a crash.
func meterSyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
