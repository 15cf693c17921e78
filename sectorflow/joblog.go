package sectorflow

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// DefaultLogRetention is how long a job log is kept when the job does not ask otherwise: job
// logs are stored as temporary objects (KindLog) that expire after it and are then removed by a
// sweep. It is the Store's default for KindLog (DefaultLogTTL); a job that wants its log kept
// longer says so explicitly with PutOptions.
const DefaultLogRetention = DefaultLogTTL

// maxJobLogLine bounds how much of a line without a newline the JobLogWriter holds before it
// redacts and writes a part of it.
const maxJobLogLine = 64 << 10

// maxPEMBlock bounds how many bytes of an unterminated private-key block are held; past it the
// block is censored and the rest of it dropped until its END line or a line that cannot be part
// of a key.
const maxPEMBlock = 1 << 20

// JobLogWriter is the io.Writer that job output (engine logs, progress lines, a subprocess's
// stdout) goes through before it is stored or shown. It redacts whole lines: bytes are held until
// a newline ("\n" or "\r") arrives, so a secret split across two Write calls is still found.
// The lines of a multi-line PEM private key are held until its END line (or the first line that
// cannot be part of a key) and censored together.
// A line longer than 64 KiB is redacted and written in parts cut at whitespace (a registered
// secret that itself contains a blank can be missed if it straddles such a cut).
//
// Close writes what is held (redacted) and must be called when the job ends; it does not close
// the underlying writer. JobLogWriter is safe for concurrent use; concurrent Writes are
// serialised, and lines interleave only where writers split them.
type JobLogWriter struct {
	mu      sync.Mutex
	w       io.Writer
	r       Redactor
	line    []byte // a line without its newline yet
	block   []byte // the held lines of an unterminated private-key block
	inBlock bool
	drop    bool // inside an oversized private-key block: lines are dropped until its END
	closed  bool
	err     error // the first write error; later writes return it
}

// NewJobLogWriter returns a writer that redacts with r and writes to w. A nil r means a
// PatternRedactor with no registered secrets; a nil w discards the output.
func NewJobLogWriter(w io.Writer, r Redactor) *JobLogWriter {
	if r == nil {
		r = defaultRedactor()
	}
	if w == nil {
		w = io.Discard
	}
	return &JobLogWriter{w: w, r: r}
}

// Write buffers p and writes every completed line, redacted. It returns len(p), or 0 and the
// error of the underlying writer (which sticks: later calls return it too).
func (j *JobLogWriter) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, fmt.Errorf("write job log: %w", os.ErrClosed)
	}
	if j.err != nil {
		return 0, j.err
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			j.line = append(j.line, p...)
			break
		}
		j.line = append(j.line, p[:i+1]...)
		p = p[i+1:]
		j.processLine(j.line)
		j.line = j.line[:0]
	}
	for len(j.line) > maxJobLogLine && j.err == nil {
		// Cut at the last blank far enough from the end that a secret near the cut is whole
		// on one side; a line with no blank is written whole.
		cut := bytes.LastIndexAny(j.line[:len(j.line)-4096], " \t")
		if cut < 0 {
			cut = len(j.line) - 1
		}
		j.processLine(j.line[:cut+1])
		j.line = append(j.line[:0], j.line[cut+1:]...)
	}
	if j.err != nil {
		return 0, j.err
	}
	return n, nil
}

// processLine redacts and writes one line (with its newline, if it has one), holding the lines
// of private-key blocks.
func (j *JobLogWriter) processLine(line []byte) {
	switch {
	case j.drop:
		if loc := pemEndRE.FindIndex(line); loc != nil {
			j.drop = false
			j.emit(j.r.Redact(string(line[loc[1]:])))
		} else if !pemBodyLine(line) {
			j.drop = false
			j.processLine(line)
		}
	case j.inBlock && !pemEndRE.Match(line) && !pemBodyLine(line):
		// Not a key after all (or a truncated one): censor what was held, carry on normally.
		j.inBlock = false
		j.emit(j.r.Redact(string(j.block)))
		j.block = j.block[:0]
		j.processLine(line)
	case j.inBlock:
		j.block = append(j.block, line...)
		if pemEndRE.Match(line) {
			j.inBlock = false
			j.emit(j.r.Redact(string(j.block)))
			j.block = j.block[:0]
		} else if len(j.block) > maxPEMBlock {
			j.inBlock, j.drop = false, true
			j.emit(j.r.Redact(string(j.block)))
			j.block = j.block[:0]
		}
	default:
		if loc := pemBeginRE.FindIndex(line); loc != nil && !pemEndRE.Match(line[loc[1]:]) {
			j.inBlock = true
			j.block = append(j.block[:0], line...)
			return
		}
		j.emit(j.r.Redact(string(line)))
	}
}

func (j *JobLogWriter) emit(s string) {
	if j.err != nil || s == "" {
		return
	}
	if _, err := io.WriteString(j.w, s); err != nil {
		j.err = fmt.Errorf("write job log: %w", err)
	}
}

// Close redacts and writes what is held (a last line without a newline, an unterminated
// private-key block, which is censored to its end). It does not close the underlying writer.
// Writes after Close fail.
func (j *JobLogWriter) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return j.err
	}
	j.closed = true
	if len(j.line) > 0 {
		j.processLine(j.line)
		j.line = nil
	}
	if j.inBlock {
		j.inBlock = false
		j.emit(j.r.Redact(string(j.block)))
		j.block = nil
	}
	return j.err
}

// pemBodyLine reports whether line can be inside a PEM block: base64, an RFC 1421 header
// ("Proc-Type: 4,ENCRYPTED", "DEK-Info: ..."), or blank.
func pemBodyLine(line []byte) bool {
	t := bytes.TrimSpace(line)
	if bytes.HasPrefix(t, []byte("Proc-Type: ")) || bytes.HasPrefix(t, []byte("DEK-Info: ")) {
		return true
	}
	for _, c := range t {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// NewJobLogger returns a logger for a job's structured log: JSON lines written to w, every
// record passed through a RedactingHandler with r first. A nil opts means slog's defaults
// (level Info).
func NewJobLogger(w io.Writer, r Redactor, opts *slog.HandlerOptions) *slog.Logger {
	return slog.New(NewRedactingHandler(slog.NewJSONHandler(w, opts), r))
}
