package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
)

var (
	// errCancelled is the cause of a job stopped by a cancel call.
	errCancelled = errors.New("job cancelled")
	// errTenantDeleted is the cause of a job stopped because its tenant is being deleted.
	errTenantDeleted = errors.New("tenant deleted")
)

// activeJob is a job that has not ended on this server: validating, queued or running.
type activeJob struct {
	s    *Server
	done chan struct{}

	mu              sync.Mutex
	rec             *jobRecord
	cancel          context.CancelCauseFunc // set while running
	cancelRequested bool
	deleted         bool // the tenant is gone: never write the record again
	lastSave        time.Time
}

// snapshot returns a deep enough copy of the record for a response.
func (a *activeJob) snapshot() *jobRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := *a.rec
	r.Events = slices.Clone(a.rec.Events)
	r.Checkpoints = slices.Clone(a.rec.Checkpoints)
	return &r
}

// update changes the record under the lock and saves it (at most every saveEvery unless force).
func (a *activeJob) update(force bool, f func(r *jobRecord)) {
	a.mu.Lock()
	f(a.rec)
	if !force && time.Since(a.lastSave) < saveEvery {
		a.mu.Unlock()
		return
	}
	a.lastSave = time.Now()
	deleted := a.deleted
	data := *a.rec
	a.mu.Unlock()
	if deleted {
		return
	}
	// A record write must land even while the server shuts down.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.s.baseCtx), 30*time.Second)
	defer cancel()
	if err := a.s.putJSON(ctx, jobKey(data.Tenant, data.Job.ID), &data, &sectorflow.PutOptions{Permanent: true}); err != nil {
		a.s.log.Error("saving job record", "job", data.Job.ID, "error", err)
	}
}

// saveEvery throttles the record writes of step events.
const saveEvery = 500 * time.Millisecond

func (a *activeJob) requestCancel() { a.stopWith(errCancelled) }

func (a *activeJob) stopWith(cause error) {
	a.mu.Lock()
	if cause == errCancelled {
		a.cancelRequested = true
	}
	if cause == errTenantDeleted {
		a.deleted = true
	}
	cancel := a.cancel
	a.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
	a.s.jobs.wake()
}

// jobRunner validates, queues and runs jobs, MaxConcurrentJobs at a time.
type jobRunner struct {
	s  *Server
	wg sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond
	active  map[string]*activeJob // by tenant/id
	queue   []*activeJob
	stopped bool
}

func newJobRunner(s *Server) *jobRunner {
	jr := &jobRunner{s: s, active: map[string]*activeJob{}}
	jr.cond = sync.NewCond(&jr.mu)
	for range s.opts.MaxConcurrentJobs {
		jr.wg.Add(1)
		go jr.worker()
	}
	return jr
}

func (jr *jobRunner) wake() {
	jr.mu.Lock()
	jr.cond.Broadcast()
	jr.mu.Unlock()
}

func (jr *jobRunner) lookup(tenant, id string) *activeJob {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	return jr.active[tenant+"/"+id]
}

// create stores a new job's record and starts validating its files.
func (jr *jobRunner) create(ctx context.Context, rec *jobRecord) (*activeJob, error) {
	if err := jr.s.putJSON(ctx, jobKey(rec.Tenant, rec.Job.ID), rec, &sectorflow.PutOptions{Permanent: true}); err != nil {
		return nil, err
	}
	return jr.admit(rec), nil
}

// admit makes rec active: a job still validating is validated first, others are queued.
func (jr *jobRunner) admit(rec *jobRecord) *activeJob {
	aj := &activeJob{s: jr.s, rec: rec, done: make(chan struct{})}
	jr.mu.Lock()
	if jr.stopped {
		jr.mu.Unlock()
		close(aj.done)
		return aj
	}
	jr.active[rec.Tenant+"/"+rec.Job.ID] = aj
	jr.wg.Add(1)
	jr.mu.Unlock()
	go func() {
		defer jr.wg.Done()
		if rec.Job.Status == statusValidating && !jr.validate(aj) {
			jr.s.meterJob(jr.s.baseCtx, aj, sectorflow.OutcomeFailed)
			jr.finish(aj)
			return
		}
		aj.update(true, func(r *jobRecord) {
			if r.Job.Status == statusValidating {
				r.Job.Status = statusQueued
				r.addEvent("info", "message", "Files validated, job queued", nil)
			}
		})
		jr.mu.Lock()
		jr.queue = append(jr.queue, aj)
		jr.cond.Broadcast()
		jr.mu.Unlock()
	}()
	return aj
}

// validate re-reads the job's files from Storage; it fails the job and returns false when one is
// gone or invalid.
func (jr *jobRunner) validate(aj *activeJob) bool {
	rec := aj.snapshot()
	ids := []string{rec.Job.TrainingFile}
	params := []string{"training_file"}
	if rec.Job.ValidationFile != nil {
		ids = append(ids, *rec.Job.ValidationFile)
		params = append(params, "validation_file")
	}
	for i, id := range ids {
		err := jr.checkFile(rec.Tenant, id)
		if err != nil {
			aj.update(true, func(r *jobRecord) {
				jr.fail(r, "invalid_"+params[i], err.Error(), params[i])
			})
			return false
		}
	}
	return true
}

func (jr *jobRunner) checkFile(tenant, id string) error {
	ctx := jr.s.baseCtx
	rc, err := jr.s.store.Get(ctx, fileDataKey(tenant, id))
	if err != nil {
		return fmt.Errorf("file %s cannot be read: %w", id, err)
	}
	defer rc.Close()
	if _, err := sectorflow.ValidateDataset(ctx, rc, id); err != nil {
		return err
	}
	return nil
}

// fail marks r failed with a redacted message.
func (jr *jobRunner) fail(r *jobRecord, code, msg, param string) {
	msg = jr.s.redactor.Redact(msg)
	r.Job.Status = statusFailed
	now := time.Now().Unix()
	r.Job.FinishedAt = &now
	r.Job.EstimatedFinish = nil
	r.Job.Error = &jobError{Code: code, Message: msg, Param: strPtr(param)}
	r.addEvent("error", "message", "Fine-tuning job failed: "+msg, nil)
}

// finish forgets an active job that has ended (or stopped for a shutdown).
func (jr *jobRunner) finish(aj *activeJob) {
	jr.mu.Lock()
	key := aj.rec.Tenant + "/" + aj.rec.Job.ID
	if jr.active[key] == aj {
		delete(jr.active, key)
	}
	jr.mu.Unlock()
	close(aj.done)
}

func (jr *jobRunner) worker() {
	defer jr.wg.Done()
	for {
		jr.mu.Lock()
		var aj *activeJob
		for !jr.stopped {
			// Drop jobs cancelled or deleted while queued.
			for i := 0; i < len(jr.queue); i++ {
				q := jr.queue[i]
				q.mu.Lock()
				stop := q.cancelRequested || q.deleted
				q.mu.Unlock()
				if stop {
					jr.queue = slices.Delete(jr.queue, i, i+1)
					i--
					go jr.endQueued(q)
				}
			}
			if len(jr.queue) > 0 {
				aj, jr.queue = jr.queue[0], jr.queue[1:]
				break
			}
			jr.cond.Wait()
		}
		jr.mu.Unlock()
		if aj == nil {
			return
		}
		jr.run(aj)
	}
}

// endQueued ends a job that was cancelled or deleted before it ran.
func (jr *jobRunner) endQueued(aj *activeJob) {
	jr.s.jobEnded(aj, 0, nil, errCancelledCause(aj), "")
	jr.finish(aj)
}

func errCancelledCause(aj *activeJob) error {
	aj.mu.Lock()
	defer aj.mu.Unlock()
	if aj.deleted {
		return errTenantDeleted
	}
	return errCancelled
}

// stopAll stops every job for a shutdown: running ones are cancelled and keep their status, so
// that the next server on the same Storage resumes them; queued ones stay queued there.
func (jr *jobRunner) stopAll() {
	jr.mu.Lock()
	jr.stopped = true
	active := make([]*activeJob, 0, len(jr.active))
	for _, aj := range jr.active {
		active = append(active, aj)
	}
	jr.cond.Broadcast()
	jr.mu.Unlock()
	for _, aj := range active {
		aj.mu.Lock()
		cancel := aj.cancel
		aj.mu.Unlock()
		if cancel != nil {
			cancel(errShutdown)
		}
	}
}

// wait waits for the workers and job goroutines to end.
func (jr *jobRunner) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { jr.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown: waiting for jobs: %w", ctx.Err())
	}
}

// stopTenant stops every job of tenant, never writing their records again, and waits for them.
func (jr *jobRunner) stopTenant(ctx context.Context, tenant string) error {
	jr.mu.Lock()
	var stop []*activeJob
	for _, aj := range jr.active {
		if aj.rec.Tenant == tenant {
			stop = append(stop, aj)
		}
	}
	jr.mu.Unlock()
	for _, aj := range stop {
		aj.stopWith(errTenantDeleted)
	}
	for _, aj := range stop {
		select {
		case <-aj.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// recover queues the unfinished jobs of every known tenant, as a restarted server must.
func (jr *jobRunner) recover(ctx context.Context) error {
	tenants := []string{DefaultTenant}
	if jr.s.keys != nil {
		tenants = jr.s.keys.Tenants()
	}
	var errs []error
	for _, t := range tenants {
		recs, err := jr.s.tenantJobs(ctx, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		slices.Reverse(recs) // oldest first: they were queued first
		for _, rec := range recs {
			if !terminal(rec.Job.Status) {
				if rec.Job.Status == statusRunning {
					rec.Job.Status = statusQueued
					rec.addEvent("info", "message", fmt.Sprintf("Server restarted; job queued to resume from step %d", rec.CheckpointStep), nil)
				}
				jr.admit(rec)
			}
		}
	}
	return errors.Join(errs...)
}

// run trains one job to its end, or until it is cancelled or the server stops.
func (jr *jobRunner) run(aj *activeJob) {
	s := jr.s
	ctx, cancel := context.WithCancelCause(s.baseCtx)
	defer cancel(nil)
	aj.mu.Lock()
	aj.cancel = cancel
	stopEarly := aj.cancelRequested || aj.deleted
	aj.mu.Unlock()
	if stopEarly || ctx.Err() != nil {
		if ctx.Err() != nil && !stopEarly {
			jr.finish(aj) // shutting down: it stays queued in Storage
			return
		}
		jr.endQueued(aj)
		return
	}
	rec := aj.snapshot()
	work := filepath.Join(s.workDir, "jobs", rec.Tenant, rec.Job.ID)
	defer os.RemoveAll(work)
	logBuf := &lockedBuffer{}
	// Carry the log of earlier runs over (it was redacted when it was written).
	if rc, err := s.store.Get(ctx, logKey(rec.Tenant, rec.Job.ID)); err == nil {
		_, _ = io.Copy(logBuf, io.LimitReader(rc, maxRecordBytes))
		rc.Close()
	}
	jl := sectorflow.NewJobLogWriter(logBuf, s.redactor)
	logger := sectorflow.NewJobLogger(jl, s.redactor, nil)
	// saveLog stores the log so far (complete lines: the JSON handler writes whole records);
	// the final save flushes the redacting writer first.
	saveLog := func(final bool) {
		if final {
			_ = jl.Close()
		}
		if aj.isDeleted() {
			return
		}
		lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer lcancel()
		// nil options: KindLog objects get the store's default log expiry.
		if err := s.store.Put(lctx, logKey(rec.Tenant, rec.Job.ID), bytes.NewReader(logBuf.Bytes()), nil); err != nil {
			s.log.Error("saving job log", "job", rec.Job.ID, "error", err)
		}
	}
	start := time.Now()
	res, err := jr.train(ctx, aj, rec, work, logger, saveLog)
	elapsed := time.Since(start)
	cause := context.Cause(ctx)
	if err != nil && cause != nil && ctx.Err() != nil {
		err = cause
	}
	if err != nil {
		logger.Error("training stopped", "error", err.Error())
	} else {
		logger.Info("training finished", "steps", res.Steps, "loss", res.Loss)
	}
	if !errors.Is(err, errTenantDeleted) {
		s.jobEnded(aj, elapsed, res, err, work)
	}
	saveLog(true)
	jr.finish(aj)
}

func (a *activeJob) isDeleted() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.deleted
}

// train prepares the job's files and checkpoint and runs the Tuner.
func (jr *jobRunner) train(ctx context.Context, aj *activeJob, rec *jobRecord, work string, logger *slog.Logger, saveLog func(final bool)) (*sectorflow.TuneResult, error) {
	s := jr.s
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	out := filepath.Join(work, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, err
	}
	trainPath := filepath.Join(work, "train.jsonl")
	if err := s.copyObject(ctx, fileDataKey(rec.Tenant, rec.Job.TrainingFile), trainPath); err != nil {
		return nil, &jobFailure{code: "invalid_training_file", param: "training_file", err: fmt.Errorf("training file %s: %w", rec.Job.TrainingFile, err)}
	}
	opts := &sectorflow.TuneOptions{
		Rank: rec.Params.Rank, Alpha: rec.Params.Alpha, Targets: rec.Params.Targets, Epochs: rec.Params.Epochs, BatchSize: rec.Params.BatchSize,
		LearningRate: rec.Params.LearningRate, Seed: rec.Params.Seed, CheckpointEvery: s.opts.CheckpointEvery, KeepCheckpoints: 1,
		BaseModelName: s.modelName, Precision: s.opts.Precision, Logger: logger,
	}
	if rec.Job.ValidationFile != nil {
		p := filepath.Join(work, "validation.jsonl")
		if err := s.copyObject(ctx, fileDataKey(rec.Tenant, *rec.Job.ValidationFile), p); err != nil {
			return nil, &jobFailure{code: "invalid_validation_file", param: "validation_file", err: fmt.Errorf("validation file %s: %w", *rec.Job.ValidationFile, err)}
		}
		opts.ValidationPath = p
	}
	if rec.CheckpointStep > 0 && rec.CheckpointDir != "" {
		dir := filepath.Join(out, "checkpoints", filepath.Base(rec.CheckpointDir))
		if err := s.getDir(ctx, checkpointKey(rec.Tenant, rec.Job.ID), dir); err != nil {
			logger.Warn("checkpoint unavailable; training restarts from the beginning", "error", err.Error())
		} else {
			opts.Resume = out
		}
	}
	aj.update(true, func(r *jobRecord) {
		r.Job.Status = statusRunning
		if opts.Resume != "" {
			r.addEvent("info", "message", fmt.Sprintf("Fine-tuning job resumed from the checkpoint at step %d", r.CheckpointStep), nil)
		} else {
			r.addEvent("info", "message", "Fine-tuning job started", nil)
		}
	})
	logger.Info("fine-tuning started", "job", rec.Job.ID, "model", s.modelName, "hyperparameters", rec.Job.Hyperparameters,
		"metadata", rec.Job.Metadata, "resume", opts.Resume != "")
	opts.OnEvent = func(e sectorflow.TuneEvent) {
		if jr.onEvent(ctx, aj, e, logger) {
			saveLog(false) // with each checkpoint, so that a crash loses little of the log
		}
	}
	job, err := s.tuner.Tune(ctx, trainPath, out, opts)
	if err != nil {
		return nil, err
	}
	return job.Wait(context.WithoutCancel(ctx))
}

// onEvent turns a training event into job state: trained tokens, a metrics event, and for a
// checkpoint, a copy in Storage that a restarted server resumes from. It reports whether it
// stored a checkpoint.
func (jr *jobRunner) onEvent(ctx context.Context, aj *activeJob, e sectorflow.TuneEvent, logger *slog.Logger) bool {
	s := jr.s
	switch e.Kind {
	case "step":
		logger.Info("step", "step", e.Step, "total_steps", e.TotalSteps, "loss", e.Loss, "learning_rate", e.LearningRate)
		trained := e.TrainedTokens // across resumptions
		aj.update(false, func(r *jobRecord) {
			r.Job.TrainedTokens, r.LastLoss = &trained, e.Loss
			if e.ETA > 0 {
				f := time.Now().Add(e.ETA).Unix()
				r.Job.EstimatedFinish = &f
			}
			r.addEvent("info", "metrics", fmt.Sprintf("Step %d/%d: training loss=%.4f", e.Step, e.TotalSteps, e.Loss),
				map[string]any{"step": e.Step, "total_steps": e.TotalSteps, "train_loss": e.Loss, "learning_rate": e.LearningRate})
		})
	case "eval":
		aj.update(false, func(r *jobRecord) {
			r.addEvent("info", "metrics", fmt.Sprintf("Step %d/%d: validation loss=%.4f", e.Step, e.TotalSteps, e.EvalLoss),
				map[string]any{"step": e.Step, "total_steps": e.TotalSteps, "valid_loss": e.EvalLoss})
		})
	case "checkpoint":
		if e.Checkpoint == "" {
			return false
		}
		rec := aj.snapshot()
		pctx := context.WithoutCancel(ctx)
		if err := s.putDir(pctx, checkpointKey(rec.Tenant, rec.Job.ID), e.Checkpoint); err != nil {
			logger.Warn("saving checkpoint", "step", e.Step, "error", err.Error())
			return false
		}
		logger.Info("checkpoint saved", "step", e.Step)
		aj.update(true, func(r *jobRecord) {
			var trained int64
			if r.Job.TrainedTokens != nil {
				trained = *r.Job.TrainedTokens
			}
			r.CheckpointStep, r.CheckpointDir, r.TokensAtCheckpoint = e.Step, filepath.Base(e.Checkpoint), trained
			r.Checkpoints = append(r.Checkpoints, jobCheckpoint{ID: newID("ftckpt-"), Object: "fine_tuning.job.checkpoint",
				CreatedAt: time.Now().Unix(), FineTuningJobID: r.Job.ID, StepNumber: e.Step,
				FineTunedModelCheckpoint: s.fineTunedModelID(r.Tenant, r.Job.Suffix, r.Job.ID) + fmt.Sprintf(":ckpt-step-%d", e.Step),
				Metrics:                  map[string]any{"step": e.Step, "train_loss": r.LastLoss}})
			r.addEvent("info", "message", fmt.Sprintf("Checkpoint created at step %d", e.Step), nil)
		})
		return true
	}
	return false
}

// jobFailure is a job error with OpenAI's code and param.
type jobFailure struct {
	code, param string
	err         error
}

func (f *jobFailure) Error() string { return f.err.Error() }
func (f *jobFailure) Unwrap() error { return f.err }

// jobEnded records how a run ended: success (adapter stored), cancellation, failure, or a
// shutdown (the record keeps its status so that the job resumes). It meters every ending but a
// shutdown, which the resumed run's final record bills instead.
func (s *Server) jobEnded(aj *activeJob, elapsed time.Duration, res *sectorflow.TuneResult, err error, work string) {
	if errors.Is(err, errShutdown) {
		aj.update(true, func(r *jobRecord) {
			r.ComputeNS += int64(elapsed)
			r.addEvent("info", "message", fmt.Sprintf("Server shutting down; the job resumes from step %d", r.CheckpointStep), nil)
		})
		return
	}
	if errors.Is(err, errTenantDeleted) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.baseCtx), 5*time.Minute)
	defer cancel()
	rec := aj.snapshot()
	if err == nil {
		if perr := s.putDir(ctx, adapterKey(rec.Tenant, rec.Job.ID), filepath.Join(work, "out"), "checkpoints"); perr != nil {
			err = fmt.Errorf("storing the adapter: %w", perr)
		}
	}
	outcome := sectorflow.OutcomeCompleted
	aj.update(true, func(r *jobRecord) {
		r.ComputeNS += int64(elapsed)
		now := time.Now().Unix()
		switch {
		case err == nil:
			id := s.fineTunedModelID(r.Tenant, r.Job.Suffix, r.Job.ID)
			r.Job.Status, r.Job.FineTunedModel, r.Job.FinishedAt, r.Job.EstimatedFinish = statusSucceeded, &id, &now, nil
			r.addEvent("info", "message", "The job has successfully completed", map[string]any{"fine_tuned_model": id})
		case errors.Is(err, errCancelled) || errors.Is(err, context.Canceled):
			outcome = sectorflow.OutcomeCancelled
			r.Job.Status, r.Job.FinishedAt, r.Job.EstimatedFinish = statusCancelled, &now, nil
			r.addEvent("info", "message", "Fine-tuning job cancelled", nil)
		default:
			outcome = sectorflow.OutcomeFailed
			var jf *jobFailure
			code, param := "training_failed", ""
			if errors.As(err, &jf) {
				code, param = jf.code, jf.param
			} else if errors.Is(err, sectorflow.ErrInvalidDataset) {
				code, param = "invalid_training_file", "training_file"
			}
			s.jobs.fail(r, code, err.Error(), param)
		}
	})
	s.meterJob(ctx, aj, outcome)
}

// meterJob records a job's usage once it has ended.
func (s *Server) meterJob(ctx context.Context, aj *activeJob, outcome sectorflow.UsageOutcome) {
	if s.meter == nil {
		return
	}
	rec := aj.snapshot()
	u := sectorflow.Usage{ID: rec.Job.ID, Tenant: rec.Tenant, Kind: sectorflow.UsageTraining, Model: s.modelName,
		ComputeTime: time.Duration(rec.ComputeNS), Outcome: outcome}
	if rec.Job.TrainedTokens != nil {
		u.TrainedTokens = *rec.Job.TrainedTokens
	}
	if rec.Job.FineTunedModel != nil {
		u.Adapter = *rec.Job.FineTunedModel
	}
	if err := s.meter.Record(context.WithoutCancel(ctx), u); err != nil {
		s.log.Error("metering job", "job", rec.Job.ID, "error", err)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
