package sectorflow

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// errPutReturned stops the redacting goroutine of StoreJobLog once Put has returned.
var errPutReturned = errors.New("put returned")

// StoreJobLog stores a job's log: it reads src to its end, redacts it line by line with r (as a
// JobLogWriter does; nil means the built-in patterns) and puts the result under key, which must
// be of KindLog. With nil opts the log is temporary for DefaultLogRetention, whatever the store's
// own default for logs; a caller that wants to keep a log longer passes its own PutOptions. The
// log is streamed, never held whole in memory. If Put fails, src may not have been read to its
// end.
func StoreJobLog(ctx context.Context, s Storage, key Key, src io.Reader, r Redactor, opts *PutOptions) error {
	if key.Kind != KindLog {
		return fmt.Errorf("store job log %s: want a key of kind %q, found %q", key, KindLog, key.Kind)
	}
	if src == nil {
		return fmt.Errorf("store job log %s: expected a reader with the log, found nil", key)
	}
	if opts == nil {
		opts = &PutOptions{TTL: DefaultLogRetention}
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := NewJobLogWriter(pw, r)
		_, err := io.Copy(w, src)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err) // nil: the reader sees EOF
	}()
	err := s.Put(ctx, key, pr, opts)
	pr.CloseWithError(errPutReturned)
	if err != nil {
		return fmt.Errorf("store job log: %w", err)
	}
	<-done // Put read to EOF, so the goroutine has finished or is about to
	return nil
}
