package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/sectorflow/sdk/tokenize"
)

// DefaultTenant is the tenant every request acts for when the server has no keys.
const DefaultTenant = "default"

// Defaults of Options.
const (
	DefaultMaxRequestBytes = 4 << 20
	DefaultMaxFileBytes    = 64 << 20
	DefaultRequestTimeout  = 5 * time.Minute
	DefaultShutdownGrace   = 10 * time.Second
	DefaultCheckpointEvery = 50
	DefaultMaxTokens       = 512
	DefaultSweepInterval   = time.Hour
)

// Options configure a Server. A nil *Options, or zero fields, mean the documented defaults.
type Options struct {
	// ModelName is the id the base model is served under (default: the base name of the model
	// directory).
	ModelName string
	// MaxBatch is how many requests decode together (default: the model's default, 8);
	// QueueSize how many may wait for a slot before requests are refused with 429 (default 256);
	// MaxContext caps prompt plus completion tokens (default: the model's context, at most
	// 2048). Backend selects the compute backend as GOMLX_BACKEND does (default: pure Go unless
	// a PJRT plugin is installed). Precision is "float32" (default) or "bfloat16", for serving
	// and fine-tuning alike (see sectorflow.ModelOptions.Precision).
	MaxBatch   int
	QueueSize  int
	MaxContext int
	Backend    string
	Precision  string
	// Storage holds files, job records, checkpoints, adapters and job logs (default: an
	// in-memory store, so nothing survives the process; pass a file store to keep state across
	// restarts). Tenant deletion needs it to implement sectorflow.TenantDeleter.
	Storage sectorflow.Storage
	// Meter receives the usage of every request and job (default: none).
	Meter sectorflow.Meter
	// Redactor censors every job log line (default: a sectorflow.PatternRedactor).
	Redactor sectorflow.Redactor
	// Keys maps API keys to tenants (default: no authentication; every request acts for
	// DefaultTenant and admin calls are refused).
	Keys *Keys
	// WorkDir is local scratch space for training runs and downloaded adapters (default: a
	// temporary directory removed by Shutdown). Nothing in it needs to survive a restart.
	WorkDir string
	// MaxRequestBytes bounds JSON request bodies (default DefaultMaxRequestBytes);
	// MaxFileBytes bounds uploads (default DefaultMaxFileBytes).
	MaxRequestBytes int64
	MaxFileBytes    int64
	// RequestTimeout bounds one completion request, streaming included (default
	// DefaultRequestTimeout).
	RequestTimeout time.Duration
	// MaxTokens is the completion length when a request names none, and MaxTokensLimit the
	// most a request may ask for (defaults DefaultMaxTokens and 4096).
	MaxTokens      int
	MaxTokensLimit int
	// MaxLoadedAdapters bounds the fine-tuned adapters held by the model at once (default 64);
	// the least recently used one is unloaded to make room and reloaded from Storage when
	// needed again.
	MaxLoadedAdapters int
	// MaxConcurrentJobs is how many fine-tuning jobs train at once (default 1); more wait queued.
	MaxConcurrentJobs int
	// CheckpointEvery is how often, in optimizer steps, a job saves a resumable checkpoint to
	// Storage (default DefaultCheckpointEvery; the end of training always saves one).
	CheckpointEvery int
	// ShutdownGrace is how long Serve waits for requests in flight after its context is done
	// before it cancels them (default DefaultShutdownGrace).
	ShutdownGrace time.Duration
	// SweepInterval is how often Serve removes expired objects (job logs, temporary files) when
	// Storage implements sectorflow.Sweeper (default DefaultSweepInterval; negative: never).
	SweepInterval time.Duration
	// Logger receives the server's diagnostics (default: discard). Job logs go to Storage.
	Logger *slog.Logger
}

// Server is the OpenAI-compatible HTTP API over one base model: chat and text completions on
// the base model and on the fine-tuned adapters of the calling tenant, files, and fine-tuning
// jobs that run in the background and survive restarts. It implements http.Handler.
type Server struct {
	opts      Options
	modelName string
	model     engine
	tok       *tokenize.Tokenizer
	tuner     *sectorflow.Tuner
	store     sectorflow.Storage
	meter     sectorflow.Meter
	redactor  sectorflow.Redactor
	keys      *Keys
	log       *slog.Logger
	mux       *http.ServeMux
	workDir   string
	ownWork   bool
	created   int64

	// baseCtx is the parent of every job and request; stop cancels it.
	baseCtx context.Context
	stop    context.CancelCauseFunc

	jobs     *jobRunner
	adapters *adapterCache

	closeOnce sync.Once
}

// errShutdown is the cause of work stopped because the server is shutting down.
var errShutdown = errors.New("server shutting down")

// New loads the model in modelDir (Hugging Face layout) and returns a server for it. Jobs left
// unfinished in Storage by an earlier run are queued again and resume from their last checkpoint.
// Call Shutdown (or let Serve return) to stop the jobs and release the model.
func New(ctx context.Context, modelDir string, opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ModelName == "" {
		o.ModelName = filepath.Base(filepath.Clean(modelDir))
	}
	if o.Storage == nil {
		o.Storage = sectorflow.NewMemoryStore(nil)
	}
	if o.Redactor == nil {
		r, err := sectorflow.NewPatternRedactor(nil)
		if err != nil {
			return nil, fmt.Errorf("new server: %w", err)
		}
		o.Redactor = r
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	if o.MaxTokensLimit <= 0 {
		o.MaxTokensLimit = 4096
	}
	if o.MaxLoadedAdapters <= 0 {
		o.MaxLoadedAdapters = 64
	}
	if o.MaxConcurrentJobs <= 0 {
		o.MaxConcurrentJobs = 1
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	s := &Server{opts: o, modelName: o.ModelName, store: o.Storage, meter: o.Meter, redactor: o.Redactor,
		keys: o.Keys, log: o.Logger, created: time.Now().Unix()}
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "sectorflow-server-")
		if err != nil {
			return nil, fmt.Errorf("new server: work directory: %w", err)
		}
		s.workDir, s.ownWork = dir, true
	} else {
		if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
			return nil, fmt.Errorf("new server: work directory: %w", err)
		}
		s.workDir = o.WorkDir
	}
	tuner, err := sectorflow.NewTuner(modelDir, &sectorflow.TunerOptions{Logger: o.Logger})
	if err != nil {
		s.removeWork()
		return nil, fmt.Errorf("new server: %w", err)
	}
	s.tuner = tuner
	tok, err := tokenize.Load(modelDir)
	if err != nil {
		s.removeWork()
		return nil, fmt.Errorf("new server: %w", err)
	}
	s.tok = tok
	model, err := loadEngine(ctx, modelDir, &o, s.onUsage)
	if err != nil {
		s.removeWork()
		return nil, fmt.Errorf("new server: %w", err)
	}
	s.model = model
	s.baseCtx, s.stop = context.WithCancelCause(context.Background())
	s.adapters = newAdapterCache(s)
	s.jobs = newJobRunner(s)
	s.routes()
	if err := s.jobs.recover(ctx); err != nil {
		s.log.Warn("recovering unfinished jobs", "error", err)
	}
	return s, nil
}

func (s *Server) removeWork() {
	if s.ownWork {
		os.RemoveAll(s.workDir)
	}
}

func (s *Server) routes() {
	m := http.NewServeMux()
	h := func(pattern string, f func(w http.ResponseWriter, r *http.Request) error) {
		m.HandleFunc(pattern, s.wrap(f))
	}
	h("GET /v1/models", s.listModels)
	h("GET /v1/models/{model}", s.getModel)
	h("DELETE /v1/models/{model}", s.deleteModel)
	h("POST /v1/chat/completions", s.chatCompletions)
	h("POST /v1/completions", s.completions)
	h("POST /v1/files", s.uploadFile)
	h("GET /v1/files", s.listFiles)
	h("GET /v1/files/{id}", s.getFile)
	h("GET /v1/files/{id}/content", s.getFileContent)
	h("DELETE /v1/files/{id}", s.deleteFile)
	h("POST /v1/fine_tuning/jobs", s.createJob)
	h("GET /v1/fine_tuning/jobs", s.listJobs)
	h("GET /v1/fine_tuning/jobs/{id}", s.getJob)
	h("GET /v1/fine_tuning/jobs/{id}/events", s.listJobEvents)
	h("GET /v1/fine_tuning/jobs/{id}/checkpoints", s.listJobCheckpoints)
	h("GET /v1/fine_tuning/jobs/{id}/adapter", s.downloadAdapter)
	h("POST /v1/fine_tuning/jobs/{id}/cancel", s.cancelJob)
	h("DELETE /v1/admin/tenants/{tenant}", s.deleteTenant)
	m.HandleFunc("/", s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: strPtr("unknown_url"),
			Message: fmt.Sprintf("Unknown request URL: %s %s.", r.Method, r.URL.Path)}
	}))
	s.mux = m
}

// wrap authenticates a request, bounds its body, recovers from a panic and writes a returned
// error in OpenAI's shape.
func (s *Server) wrap(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("handler panic", "path", r.URL.Path, "panic", v)
				writeError(w, internalError(fmt.Errorf("%v", v)))
			}
		}()
		p, err := s.authenticate(r)
		if err != nil {
			writeError(w, err)
			return
		}
		limit := s.opts.MaxRequestBytes
		if r.Method == http.MethodPost && r.URL.Path == "/v1/files" {
			limit = s.opts.MaxFileBytes + 1<<20 // room for the multipart envelope
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		if err := f(w, r); err != nil {
			writeError(w, err)
		}
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve answers HTTP requests on ln until ctx is done, then shuts down gracefully: it stops
// accepting connections, lets requests in flight finish for up to ShutdownGrace, cancels the
// rest (streams end with a final chunk), stops the running jobs (they resume from their last
// checkpoint when a server starts on the same Storage) and releases the model. It returns nil
// after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if sw, ok := s.store.(sectorflow.Sweeper); ok && s.opts.SweepInterval > 0 {
		go s.sweep(ctx, sw)
	}
	select {
	case err := <-errc:
		s.Shutdown(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	grace, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
	s.jobs.stopAll() // jobs checkpoint-resume; there is no need to wait for them to finish
	if err := hs.Shutdown(grace); err != nil {
		// Cancel the requests still running; their handlers end their streams with a final
		// chunk and [DONE], which they get a few seconds to write.
		s.stop(errShutdown)
		last, cancelLast := context.WithTimeout(context.Background(), 5*time.Second)
		if err := hs.Shutdown(last); err != nil {
			hs.Close()
		}
		cancelLast()
	}
	<-errc
	return s.Shutdown(context.Background())
}

// sweep removes expired objects every SweepInterval until ctx is done.
func (s *Server) sweep(ctx context.Context, sw sectorflow.Sweeper) {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rep, err := sw.Sweep(ctx)
			if err != nil {
				s.log.Warn("sweeping expired objects", "error", err)
				continue
			}
			if len(rep.Removed) > 0 {
				s.log.Info("swept expired objects", "objects", len(rep.Removed), "bytes", rep.Bytes)
			}
		}
	}
}

// Shutdown stops the running jobs without marking them finished (a server started later on the
// same Storage resumes them), cancels requests in flight, waits for the jobs' goroutines and
// releases the model and the temporary work directory. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.jobs.stopAll()
		s.stop(errShutdown)
		err = s.jobs.wait(ctx)
		if cerr := s.model.Close(); cerr != nil && err == nil {
			err = cerr
		}
		s.removeWork()
	})
	return err
}

// newID returns prefix followed by a time-ordered random id, so that ids sort by creation.
func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s%013x%s", prefix, time.Now().UnixMicro(), hex.EncodeToString(b[:]))
}
