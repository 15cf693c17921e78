package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
)

// Job statuses, as OpenAI names them.
const (
	statusValidating = "validating_files"
	statusQueued     = "queued"
	statusRunning    = "running"
	statusSucceeded  = "succeeded"
	statusFailed     = "failed"
	statusCancelled  = "cancelled"
)

func terminal(status string) bool {
	return status == statusSucceeded || status == statusFailed || status == statusCancelled
}

// Defaults for the hyperparameters a job leaves at "auto".
const (
	autoEpochs    = 3
	autoBatchSize = 4
	// baseLearningRate is what learning_rate_multiplier multiplies.
	baseLearningRate = 2e-4
	autoRank         = 8
)

// jobError is a failed job's error.
type jobError struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

// hyperparameters are a job's settings as OpenAI reports them, plus this server's LoRA
// extensions. Before a job starts, a field left out or set to "auto" reads "auto".
type hyperparameters struct {
	NEpochs                any      `json:"n_epochs"`
	BatchSize              any      `json:"batch_size"`
	LearningRateMultiplier any      `json:"learning_rate_multiplier"`
	LoRARank               int      `json:"lora_rank,omitempty"`
	LoRAAlpha              float64  `json:"lora_alpha,omitempty"`
	LoRATargets            []string `json:"lora_targets,omitempty"`
}

// fineTuningJob is OpenAI's FineTuningJob.
type fineTuningJob struct {
	ID              string            `json:"id"`
	Object          string            `json:"object"`
	CreatedAt       int64             `json:"created_at"`
	Error           *jobError         `json:"error"`
	FineTunedModel  *string           `json:"fine_tuned_model"`
	FinishedAt      *int64            `json:"finished_at"`
	Hyperparameters hyperparameters   `json:"hyperparameters"`
	Model           string            `json:"model"`
	OrganizationID  string            `json:"organization_id"`
	ResultFiles     []string          `json:"result_files"`
	Seed            int64             `json:"seed"`
	Status          string            `json:"status"`
	TrainedTokens   *int64            `json:"trained_tokens"`
	TrainingFile    string            `json:"training_file"`
	ValidationFile  *string           `json:"validation_file"`
	EstimatedFinish *int64            `json:"estimated_finish"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	Suffix          string            `json:"user_provided_suffix,omitempty"`
	Method          map[string]any    `json:"method,omitempty"`
}

// jobEvent is OpenAI's FineTuningJobEvent.
type jobEvent struct {
	ID        string         `json:"id"`
	Object    string         `json:"object"`
	CreatedAt int64          `json:"created_at"`
	Level     string         `json:"level"`
	Message   string         `json:"message"`
	Type      string         `json:"type"`
	Data      map[string]any `json:"data,omitempty"`
}

// jobCheckpoint is OpenAI's FineTuningJobCheckpoint.
type jobCheckpoint struct {
	ID                       string         `json:"id"`
	Object                   string         `json:"object"`
	CreatedAt                int64          `json:"created_at"`
	FineTunedModelCheckpoint string         `json:"fine_tuned_model_checkpoint"`
	FineTuningJobID          string         `json:"fine_tuning_job_id"`
	StepNumber               int            `json:"step_number"`
	Metrics                  map[string]any `json:"metrics"`
}

// tuneParams are a job's resolved settings.
type tuneParams struct {
	Epochs       int      `json:"epochs"`
	BatchSize    int      `json:"batch_size"`
	LearningRate float64  `json:"learning_rate"`
	Multiplier   float64  `json:"multiplier"`
	Rank         int      `json:"rank"`
	Alpha        float64  `json:"alpha"`
	Targets      []string `json:"targets,omitempty"`
	Seed         uint64   `json:"seed"`
}

// jobRecord is what Storage keeps of a job (kind job, "<id>.json").
type jobRecord struct {
	Tenant      string          `json:"tenant"`
	Job         fineTuningJob   `json:"job"`
	Params      tuneParams      `json:"params"`
	Events      []jobEvent      `json:"events"` // oldest first
	Checkpoints []jobCheckpoint `json:"checkpoints"`
	// CheckpointStep and CheckpointDir name the resumable checkpoint in Storage (0: none);
	// TokensAtCheckpoint is the trained-token count it had reached.
	CheckpointStep     int    `json:"checkpoint_step"`
	CheckpointDir      string `json:"checkpoint_dir"`
	TokensAtCheckpoint int64  `json:"tokens_at_checkpoint"`
	// LastLoss is the training loss of the latest step.
	LastLoss float64 `json:"last_loss"`
	// ComputeNS sums the training time of every run of the job.
	ComputeNS int64 `json:"compute_ns"`
}

// maxStoredEvents bounds a job record's events; older step metrics are dropped first.
const maxStoredEvents = 2000

func (r *jobRecord) addEvent(level, typ, msg string, data map[string]any) {
	r.Events = append(r.Events, jobEvent{ID: newID("ftevent-"), Object: "fine_tuning.job.event",
		CreatedAt: time.Now().Unix(), Level: level, Message: msg, Type: typ, Data: data})
	if len(r.Events) > maxStoredEvents {
		r.Events = append(r.Events[:1], r.Events[len(r.Events)-maxStoredEvents+1:]...)
	}
}

func jobKey(tenant, id string) sectorflow.Key {
	return sectorflow.Key{Tenant: tenant, Kind: sectorflow.KindJob, Name: id + ".json"}
}

func checkpointKey(tenant, id string) sectorflow.Key {
	return sectorflow.Key{Tenant: tenant, Kind: sectorflow.KindCheckpoint, Name: id + ".tar"}
}

func adapterKey(tenant, id string) sectorflow.Key {
	return sectorflow.Key{Tenant: tenant, Kind: sectorflow.KindAdapter, Name: id + ".tar"}
}

func logKey(tenant, id string) sectorflow.Key {
	return sectorflow.Key{Tenant: tenant, Kind: sectorflow.KindLog, Name: id + ".log"}
}

// fineTunedModelID is OpenAI's "ft:BASE:ORG:SUFFIX:ID" with the tenant as the organisation.
func (s *Server) fineTunedModelID(tenant, suffix, jobID string) string {
	return "ft:" + s.modelName + ":" + tenant + ":" + suffix + ":" + jobID
}

// jobIDOfModel returns the job id at the end of a fine-tuned model id.
func jobIDOfModel(model string) (string, bool) {
	if !strings.HasPrefix(model, "ft:") {
		return "", false
	}
	i := strings.LastIndexByte(model, ':')
	id := model[i+1:]
	return id, validID(id, "ftjob-")
}

// createJobRequest is the body of POST /v1/fine_tuning/jobs.
type createJobRequest struct {
	Model           string            `json:"model"`
	TrainingFile    string            `json:"training_file"`
	ValidationFile  string            `json:"validation_file"`
	Hyperparameters *rawHyper         `json:"hyperparameters"`
	Suffix          string            `json:"suffix"`
	Seed            *int64            `json:"seed"`
	Metadata        map[string]string `json:"metadata"`
	Method          *struct {
		Type       string `json:"type"`
		Supervised *struct {
			Hyperparameters *rawHyper `json:"hyperparameters"`
		} `json:"supervised"`
	} `json:"method"`
	Integrations json.RawMessage `json:"integrations"`
}

// rawHyper holds hyperparameters as sent: numbers or "auto".
type rawHyper struct {
	NEpochs                json.RawMessage `json:"n_epochs"`
	BatchSize              json.RawMessage `json:"batch_size"`
	LearningRateMultiplier json.RawMessage `json:"learning_rate_multiplier"`
	LoRARank               json.RawMessage `json:"lora_rank"`
	LoRAAlpha              json.RawMessage `json:"lora_alpha"`
	LoRATargets            json.RawMessage `json:"lora_targets"`
}

// loraTargets are the projections a job may adapt.
var loraTargets = map[string]bool{"q_proj": true, "k_proj": true, "v_proj": true, "o_proj": true,
	"gate_proj": true, "up_proj": true, "down_proj": true, "all-linear": true}

// parseTargets decodes lora_targets: "all-linear", a projection name, or a list of them.
func parseTargets(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `"auto"` {
		return nil, nil
	}
	var list []string
	var one string
	if json.Unmarshal(raw, &one) == nil {
		list = []string{one}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, invalid("hyperparameters.lora_targets", "invalid_hyperparameter", "Expected lora_targets as a projection name or a list of them, found %s.", string(raw))
	}
	if len(list) == 0 {
		return nil, invalid("hyperparameters.lora_targets", "invalid_hyperparameter", "Expected at least one projection in lora_targets.")
	}
	for _, t := range list {
		if !loraTargets[t] {
			return nil, invalid("hyperparameters.lora_targets", "invalid_hyperparameter",
				"Expected lora_targets among q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or all-linear, found %q.", t)
		}
	}
	return list, nil
}

// autoOr decodes raw as "auto" (or absent: ok false) or a number within [lo, hi].
func autoOr(raw json.RawMessage, param string, lo, hi float64, integer bool) (float64, bool, error) {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `"auto"` {
		return 0, false, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil || math.IsNaN(v) || v < lo || v > hi || (integer && v != math.Trunc(v)) {
		kind := "a number"
		if integer {
			kind = "an integer"
		}
		return 0, false, invalid("hyperparameters."+param, "invalid_hyperparameter",
			"Expected %s %s between %g and %g or \"auto\", found %s.", param, kind, lo, hi, string(raw))
	}
	return v, true, nil
}

// resolve turns the request's hyperparameters into a job's reported and resolved settings.
func resolveHyper(h *rawHyper, seed uint64) (hyperparameters, tuneParams, error) {
	if h == nil {
		h = &rawHyper{}
	}
	rep := hyperparameters{NEpochs: "auto", BatchSize: "auto", LearningRateMultiplier: "auto"}
	p := tuneParams{Epochs: autoEpochs, BatchSize: autoBatchSize, Multiplier: 1, Rank: autoRank, Seed: seed}
	if v, ok, err := autoOr(h.NEpochs, "n_epochs", 1, 50, true); err != nil {
		return rep, p, err
	} else if ok {
		p.Epochs, rep.NEpochs = int(v), int(v)
	}
	if v, ok, err := autoOr(h.BatchSize, "batch_size", 1, 256, true); err != nil {
		return rep, p, err
	} else if ok {
		p.BatchSize, rep.BatchSize = int(v), int(v)
	}
	if v, ok, err := autoOr(h.LearningRateMultiplier, "learning_rate_multiplier", 1e-6, 100, false); err != nil {
		return rep, p, err
	} else if ok {
		p.Multiplier, rep.LearningRateMultiplier = v, v
	}
	if v, ok, err := autoOr(h.LoRARank, "lora_rank", 1, 256, true); err != nil {
		return rep, p, err
	} else if ok {
		p.Rank = int(v)
	}
	p.Alpha = 2 * float64(p.Rank)
	if v, ok, err := autoOr(h.LoRAAlpha, "lora_alpha", 1e-3, 1e4, false); err != nil {
		return rep, p, err
	} else if ok {
		p.Alpha = v
	}
	targets, err := parseTargets(h.LoRATargets)
	if err != nil {
		return rep, p, err
	}
	p.Targets = targets
	p.LearningRate = baseLearningRate * p.Multiplier
	rep.LoRARank, rep.LoRAAlpha, rep.LoRATargets = p.Rank, p.Alpha, p.Targets
	return rep, p, nil
}

// validSuffix reports whether a model suffix is up to 64 ASCII letters, digits, '-' and '_'.
func validSuffix(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	var req createJobRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Model != s.modelName {
		return invalid("model", "model_not_available", "Expected model %q (the base model this server fine-tunes), found %q.", s.modelName, req.Model)
	}
	if req.TrainingFile == "" {
		return invalid("training_file", "missing_training_file", "Expected a training_file id, found none.")
	}
	if !validSuffix(req.Suffix) {
		return invalid("suffix", "invalid_suffix", "Expected a suffix of at most 64 ASCII letters, digits, '-' or '_', found %q.", req.Suffix)
	}
	if len(req.Metadata) > 16 {
		return invalid("metadata", "invalid_metadata", "Expected at most 16 metadata pairs, found %d.", len(req.Metadata))
	}
	hyper := req.Hyperparameters
	method := map[string]any{"type": "supervised"}
	if req.Method != nil {
		if req.Method.Type != "" && req.Method.Type != "supervised" {
			return invalid("method.type", "unsupported_method", "Expected method type \"supervised\", found %q.", req.Method.Type)
		}
		if req.Method.Supervised != nil && req.Method.Supervised.Hyperparameters != nil {
			if hyper != nil {
				return invalid("hyperparameters", "conflicting_hyperparameters", "Expected hyperparameters either at the top level or in method.supervised, found both.")
			}
			hyper = req.Method.Supervised.Hyperparameters
		}
	}
	var seed int64
	if req.Seed != nil {
		if *req.Seed < 0 {
			return invalid("seed", "invalid_seed", "Expected a seed of at least 0, found %d.", *req.Seed)
		}
		seed = *req.Seed
	} else {
		seed = time.Now().UnixNano() & 0x7fffffff
	}
	rep, params, err := resolveHyper(hyper, uint64(seed))
	if err != nil {
		return err
	}
	method["supervised"] = map[string]any{"hyperparameters": rep}
	train, err := s.loadFile(r.Context(), p.Tenant, req.TrainingFile)
	if err != nil {
		return invalid("training_file", "invalid_training_file", "No file found with id %q.", req.TrainingFile)
	}
	var valID *string
	if req.ValidationFile != "" {
		v, err := s.loadFile(r.Context(), p.Tenant, req.ValidationFile)
		if err != nil {
			return invalid("validation_file", "invalid_validation_file", "No file found with id %q.", req.ValidationFile)
		}
		valID = &v.ID
	}
	zero := int64(0)
	rec := &jobRecord{Tenant: p.Tenant, Params: params, Job: fineTuningJob{
		ID: newID("ftjob-"), Object: "fine_tuning.job", CreatedAt: time.Now().Unix(), Hyperparameters: rep,
		Model: s.modelName, OrganizationID: p.Tenant, ResultFiles: []string{}, Seed: seed, Status: statusValidating,
		TrainedTokens: &zero, TrainingFile: train.ID, ValidationFile: valID, Metadata: req.Metadata, Suffix: req.Suffix,
		Method: method,
	}}
	rec.addEvent("info", "message", fmt.Sprintf("Created fine-tuning job: %s", rec.Job.ID), nil)
	created := rec.Job // as created: the job moves on in the background at once
	if _, err := s.jobs.create(r.Context(), rec); err != nil {
		return internalError(err)
	}
	writeJSON(w, http.StatusOK, created)
	return nil
}

// loadJob returns the calling tenant's job: the live record of an active job, else the stored
// one; a 404 when it does not exist for this tenant.
func (s *Server) loadJob(ctx context.Context, tenant, id string) (*jobRecord, error) {
	if !validID(id, "ftjob-") {
		return nil, notFound("fine-tuning job", id)
	}
	if aj := s.jobs.lookup(tenant, id); aj != nil {
		return aj.snapshot(), nil
	}
	var rec jobRecord
	if err := s.getJSON(ctx, jobKey(tenant, id), &rec); err != nil {
		if errors.Is(err, sectorflow.ErrNotFound) {
			return nil, notFound("fine-tuning job", id)
		}
		return nil, internalError(err)
	}
	return &rec, nil
}

// tenantJobs returns every job of tenant, newest first.
func (s *Server) tenantJobs(ctx context.Context, tenant string) ([]*jobRecord, error) {
	var recs []*jobRecord
	for info, err := range s.store.List(ctx, tenant, string(sectorflow.KindJob)+"/") {
		if err != nil {
			return nil, err
		}
		id, ok := strings.CutSuffix(info.Key.Name, ".json")
		if !ok {
			continue
		}
		rec, err := s.loadJob(ctx, tenant, id)
		if err != nil {
			continue // deleted since it was listed
		}
		recs = append(recs, rec)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Job.ID > recs[j].Job.ID })
	return recs, nil
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	recs, err := s.tenantJobs(r.Context(), principalOf(r.Context()).Tenant)
	if err != nil {
		return internalError(err)
	}
	jobs := make([]*fineTuningJob, len(recs))
	for i, rec := range recs {
		jobs[i] = &rec.Job
	}
	page, more, err := paginate(r, jobs, func(j *fineTuningJob) string { return j.ID }, 100)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listObject(page, more))
	return nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.loadJob(r.Context(), principalOf(r.Context()).Tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec.Job)
	return nil
}

func (s *Server) listJobEvents(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.loadJob(r.Context(), principalOf(r.Context()).Tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	events := make([]jobEvent, len(rec.Events))
	for i, e := range rec.Events { // newest first, as OpenAI lists them
		events[len(events)-1-i] = e
	}
	page, more, err := paginate(r, events, func(e jobEvent) string { return e.ID }, 1000)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listObject(page, more))
	return nil
}

func (s *Server) listJobCheckpoints(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.loadJob(r.Context(), principalOf(r.Context()).Tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	cps := make([]jobCheckpoint, len(rec.Checkpoints))
	for i, c := range rec.Checkpoints {
		cps[len(cps)-1-i] = c
	}
	page, more, err := paginate(r, cps, func(c jobCheckpoint) string { return c.ID }, 100)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listObject(page, more))
	return nil
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	id := r.PathValue("id")
	rec, err := s.loadJob(r.Context(), p.Tenant, id)
	if err != nil {
		return err
	}
	if terminal(rec.Job.Status) {
		return invalid("", "job_not_cancellable", "Expected a job that has not finished, found status %q.", rec.Job.Status)
	}
	aj := s.jobs.lookup(p.Tenant, id)
	if aj == nil {
		return &apiError{Status: http.StatusConflict, Type: "invalid_request_error", Code: strPtr("job_not_running"),
			Message: "The job is not running on this server yet; try again shortly."}
	}
	aj.requestCancel()
	// Training stops between steps; wait a little so that the answer usually says cancelled.
	select {
	case <-aj.done:
	case <-time.After(10 * time.Second):
	case <-r.Context().Done():
	}
	writeJSON(w, http.StatusOK, aj.snapshot().Job)
	return nil
}

// downloadAdapter is GET /v1/fine_tuning/jobs/{id}/adapter (an extension): the fine-tuned
// adapter in PEFT format (adapter_config.json, adapter_model.safetensors, tokenizer files) as a
// tar archive.
func (s *Server) downloadAdapter(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	rec, err := s.loadJob(r.Context(), p.Tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	if rec.Job.Status != statusSucceeded {
		return invalid("", "adapter_not_ready", "Expected a succeeded job, found status %q.", rec.Job.Status)
	}
	rc, err := s.store.Get(r.Context(), adapterKey(p.Tenant, rec.Job.ID))
	if err != nil {
		if errors.Is(err, sectorflow.ErrNotFound) {
			return notFound("adapter", rec.Job.ID)
		}
		return internalError(err)
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", rec.Job.ID+"-adapter.tar"))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	return nil
}
