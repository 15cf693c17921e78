package server

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/sectorflow"
)

func TestFilesEndToEnd(t *testing.T) {
	meter := sectorflow.NewMemoryMeter()
	r := start(t, &Options{Meter: meter})
	ctx := context.Background()
	alice, bob := r.client("sk-alice-0001"), r.client("sk-bob-00002")

	f := uploadFile(t, alice, trainingData(4))
	require.Equal(t, "fine-tune", string(f.Purpose))
	require.Equal(t, "train.jsonl", f.Filename)
	require.EqualValues(t, len(trainingData(4)), f.Bytes)

	got, err := alice.Files.Get(ctx, f.ID)
	require.NoError(t, err)
	require.Equal(t, f.ID, got.ID)
	resp, err := alice.Files.Content(ctx, f.ID)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, trainingData(4), string(body))

	page, err := alice.Files.List(ctx, openai.FileListParams{})
	require.NoError(t, err)
	require.Len(t, page.Data, 1)

	// Another tenant sees nothing: 404, never 403, and an empty list.
	_, err = bob.Files.Get(ctx, f.ID)
	require.Equal(t, http.StatusNotFound, statusOf(err))
	_, err = bob.Files.Content(ctx, f.ID)
	require.Equal(t, http.StatusNotFound, statusOf(err))
	_, err = bob.Files.Delete(ctx, f.ID)
	require.Equal(t, http.StatusNotFound, statusOf(err))
	page, err = bob.Files.List(ctx, openai.FileListParams{})
	require.NoError(t, err)
	require.Empty(t, page.Data)

	del, err := alice.Files.Delete(ctx, f.ID)
	require.NoError(t, err)
	require.True(t, del.Deleted)
	_, err = alice.Files.Get(ctx, f.ID)
	require.Equal(t, http.StatusNotFound, statusOf(err))
}

func TestUploadValidation(t *testing.T) {
	r := start(t, nil)
	alice := r.client("sk-alice-0001")
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"not json", "{\"text\": \"ok\"}\nnot json\n", []string{"line 2"}},
		{"no assistant", `{"messages": [{"role": "user", "content": "hi"}]}` + "\n", []string{"line 1", "assistant"}},
		{"unknown role", `{"messages": [{"role": "wizard", "content": "hi"}, {"role": "assistant", "content": "x"}]}` + "\n", []string{"line 1", "wizard"}},
		{"several bad lines", "{\"text\": \"ok\"}\n[]\n{\"text\": \"ok\"}\n{}\n", []string{"line 2", "line 4", "2 bad line"}},
		{"empty", "\n\n", []string{"at least one example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alice.Files.New(context.Background(), openai.FileNewParams{
				File:    openai.File(strings.NewReader(tc.content), "bad.jsonl", "application/jsonl"),
				Purpose: openai.FilePurposeFineTune,
			})
			require.Equal(t, http.StatusBadRequest, statusOf(err), "%v", err)
			var ae *openai.Error
			require.ErrorAs(t, err, &ae)
			require.Equal(t, "invalid_file_format", ae.Code)
			require.Equal(t, "file", ae.Param)
			for _, w := range tc.want {
				require.Contains(t, ae.Message, w)
			}
		})
	}
	_, err := alice.Files.New(context.Background(), openai.FileNewParams{
		File:    openai.File(strings.NewReader(trainingData(1)), "x.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeAssistants,
	})
	require.Equal(t, http.StatusBadRequest, statusOf(err))
}

func TestAuthAndErrors(t *testing.T) {
	r := start(t, &Options{MaxRequestBytes: 1024})
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"no key", "GET", "/v1/models", "", "", 401, "invalid_api_key"},
		{"wrong key", "GET", "/v1/models", "sk-nobody-99", "", 401, "invalid_api_key"},
		{"unknown url", "GET", "/v1/nothing", "sk-alice-0001", "", 404, "unknown_url"},
		{"unknown job", "GET", "/v1/fine_tuning/jobs/ftjob-0123456789abcdef", "sk-alice-0001", "", 404, "fine-tuning job_not_found"},
		{"hostile job id", "GET", "/v1/fine_tuning/jobs/..%2F..%2Fbob", "sk-alice-0001", "", 404, "fine-tuning job_not_found"},
		{"bad json", "POST", "/v1/fine_tuning/jobs", "sk-alice-0001", "{", 400, "invalid_json"},
		{"too large", "POST", "/v1/chat/completions", "sk-alice-0001", `{"model": "` + strings.Repeat("x", 2000) + `"}`, 413, "request_too_large"},
		{"admin only", "DELETE", "/v1/admin/tenants/bob", "sk-alice-0001", "", 403, "admin_only"},
		{"unknown model", "POST", "/v1/chat/completions", "sk-alice-0001", `{"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}`, 404, "model_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, r.url+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var body struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			require.NotEmpty(t, body.Error.Message)
			require.NotEmpty(t, body.Error.Type)
			require.NotNil(t, body.Error.Code)
			require.Equal(t, tc.code, *body.Error.Code)
		})
	}
}

func TestCreateJobValidation(t *testing.T) {
	r := start(t, nil)
	alice := r.client("sk-alice-0001")
	f := uploadFile(t, alice, trainingData(2))
	tests := []struct {
		name  string
		body  map[string]any
		param string
	}{
		{"wrong model", map[string]any{"model": "gpt-4o", "training_file": f.ID}, "model"},
		{"no file", map[string]any{"model": "llama"}, "training_file"},
		{"foreign file", map[string]any{"model": "llama", "training_file": "file-0123456789abcdef"}, "training_file"},
		{"bad epochs", map[string]any{"model": "llama", "training_file": f.ID, "hyperparameters": map[string]any{"n_epochs": 0}}, "hyperparameters.n_epochs"},
		{"fractional batch", map[string]any{"model": "llama", "training_file": f.ID, "hyperparameters": map[string]any{"batch_size": 1.5}}, "hyperparameters.batch_size"},
		{"bad rank", map[string]any{"model": "llama", "training_file": f.ID, "hyperparameters": map[string]any{"lora_rank": -2}}, "hyperparameters.lora_rank"},
		{"bad targets", map[string]any{"model": "llama", "training_file": f.ID, "hyperparameters": map[string]any{"lora_targets": []string{"qkv"}}}, "hyperparameters.lora_targets"},
		{"bad suffix", map[string]any{"model": "llama", "training_file": f.ID, "suffix": "a:b"}, "suffix"},
		{"dpo", map[string]any{"model": "llama", "training_file": f.ID, "method": map[string]any{"type": "dpo"}}, "method.type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out map[string]any
			err := alice.Post(context.Background(), "fine_tuning/jobs", tc.body, &out)
			require.Equal(t, http.StatusBadRequest, statusOf(err), "%v", err)
			var ae *openai.Error
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tc.param, ae.Param)
		})
	}
}

func TestFineTuningEndToEnd(t *testing.T) {
	meter := sectorflow.NewMemoryMeter()
	store := sectorflow.NewMemoryStore(nil)
	r := start(t, &Options{Meter: meter, Storage: store, CheckpointEvery: 2})
	ctx := context.Background()
	alice, bob := r.client("sk-alice-0001"), r.client("sk-bob-00002")
	f := uploadFile(t, alice, trainingData(8))

	// A secret in the metadata must not reach the job log.
	const secret = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
	job := createJob(t, alice, f.ID, 3, 2, option.WithJSONSet("metadata", map[string]string{"token": secret}),
		option.WithJSONSet(hyper("lora_rank"), 4), option.WithJSONSet(hyper("learning_rate_multiplier"), 50))
	require.Equal(t, "validating_files", string(job.Status))
	require.Equal(t, "llama", job.Model)
	require.Equal(t, f.ID, job.TrainingFile)

	done := waitJob(t, alice, job.ID, 2*time.Minute, "succeeded", "failed", "cancelled")
	require.Equal(t, "succeeded", string(done.Status), "%+v", done.Error)
	require.Equal(t, "ft:llama:alice:e2e:"+job.ID, done.FineTunedModel)
	require.Positive(t, done.TrainedTokens)
	require.EqualValues(t, 3, done.Hyperparameters.NEpochs.OfInt)
	require.EqualValues(t, 2, done.Hyperparameters.BatchSize.OfInt)

	// Events: newest first, from creation to success with metrics between.
	var msgs []string
	metrics := 0
	iter := alice.FineTuning.Jobs.ListEventsAutoPaging(ctx, job.ID, openai.FineTuningJobListEventsParams{Limit: openai.Int(3)})
	for iter.Next() {
		e := iter.Current()
		msgs = append(msgs, e.Message)
		if e.Type == "metrics" {
			metrics++
		}
	}
	require.NoError(t, iter.Err())
	require.Equal(t, "The job has successfully completed", msgs[0])
	require.Contains(t, msgs[len(msgs)-1], "Created fine-tuning job")
	require.Equal(t, 12, metrics, "8 examples, batch 2, three epochs: 12 steps")

	cps, err := alice.FineTuning.Jobs.Checkpoints.List(ctx, job.ID, openai.FineTuningJobCheckpointListParams{})
	require.NoError(t, err)
	require.NotEmpty(t, cps.Data)
	require.EqualValues(t, 12, cps.Data[0].StepNumber, "newest first")
	require.Positive(t, cps.Data[0].Metrics.TrainLoss)

	// The fine-tuned model is listed for its owner only.
	models, err := alice.Models.List(ctx)
	require.NoError(t, err)
	ids := []string{}
	for _, m := range models.Data {
		ids = append(ids, m.ID)
	}
	require.Equal(t, []string{"llama", done.FineTunedModel}, ids)
	models, err = bob.Models.List(ctx)
	require.NoError(t, err)
	require.Len(t, models.Data, 1)
	_, err = bob.Models.Get(ctx, done.FineTunedModel)
	require.Equal(t, http.StatusNotFound, statusOf(err))
	_, err = bob.FineTuning.Jobs.Get(ctx, job.ID)
	require.Equal(t, http.StatusNotFound, statusOf(err))
	_, err = bob.FineTuning.Jobs.Cancel(ctx, job.ID)
	require.Equal(t, http.StatusNotFound, statusOf(err))
	jobs, err := bob.FineTuning.Jobs.List(ctx, openai.FineTuningJobListParams{})
	require.NoError(t, err)
	require.Empty(t, jobs.Data)

	// The fine-tuned model answers with its adapter: its greedy reply differs from the base's.
	q := chatParams(done.FineTunedModel, "What is code 3?", 8)
	ft, err := alice.Chat.Completions.New(ctx, q)
	require.NoError(t, err)
	q.Model = "llama"
	base, err := alice.Chat.Completions.New(ctx, q)
	require.NoError(t, err)
	require.NotEqual(t, base.Choices[0].Message.Content, ft.Choices[0].Message.Content)
	q.Model = done.FineTunedModel
	_, err = bob.Chat.Completions.New(ctx, q)
	require.Equal(t, http.StatusNotFound, statusOf(err), "another tenant cannot use the model")

	// The adapter downloads in PEFT format.
	resp := doJSON(t, "GET", r.url+"/v1/fine_tuning/jobs/"+job.ID+"/adapter", "sk-alice-0001")
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	names := map[string]bool{}
	tr := tar.NewReader(resp.Body)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names[h.Name] = true
	}
	require.True(t, names["adapter_config.json"], "%v", names)
	require.True(t, names["adapter_model.safetensors"], "%v", names)
	resp2 := doJSON(t, "GET", r.url+"/v1/fine_tuning/jobs/"+job.ID+"/adapter", "sk-bob-00002")
	resp2.Body.Close()
	require.Equal(t, http.StatusNotFound, resp2.StatusCode)

	// The job log is a temporary object without the secret.
	var logInfo *sectorflow.ObjectInfo
	for info, err := range store.List(ctx, "alice", "log/") {
		require.NoError(t, err)
		logInfo = &info
	}
	require.NotNil(t, logInfo)
	require.True(t, logInfo.Temporary(), "job logs expire by default")
	rc, err := store.Get(ctx, logInfo.Key)
	require.NoError(t, err)
	logText, _ := io.ReadAll(rc)
	rc.Close()
	require.Contains(t, string(logText), "fine-tuning started")
	require.Contains(t, string(logText), "REDACTED")
	require.NotContains(t, string(logText), secret)

	// Usage: one training record with the tokens trained, and the chats.
	var training []sectorflow.Usage
	adapters := map[string]int{}
	require.Eventually(t, func() bool { return len(meter.Records("alice")) == 3 }, 5*time.Second, 10*time.Millisecond)
	for _, u := range meter.Records("alice") {
		if u.Kind == sectorflow.UsageTraining {
			training = append(training, u)
		} else {
			adapters[u.Adapter]++
		}
	}
	require.Len(t, training, 1)
	require.Equal(t, done.TrainedTokens, training[0].TrainedTokens)
	require.Equal(t, job.ID, training[0].ID)
	require.Equal(t, done.FineTunedModel, training[0].Adapter)
	require.Equal(t, map[string]int{"": 1, done.FineTunedModel: 1}, adapters)
	require.Empty(t, meter.Records("bob"), "a refused request bills nothing")
}

func TestCancelJob(t *testing.T) {
	meter := sectorflow.NewMemoryMeter()
	r := start(t, &Options{Meter: meter, CheckpointEvery: 1})
	ctx := context.Background()
	alice := r.client("sk-alice-0001")
	f := uploadFile(t, alice, trainingData(8))
	job := createJob(t, alice, f.ID, 50, 1)
	waitJob(t, alice, job.ID, time.Minute, "running")
	got, err := alice.FineTuning.Jobs.Cancel(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, "cancelled", string(got.Status))
	got = waitJob(t, alice, job.ID, time.Minute, "cancelled")
	require.Empty(t, got.FineTunedModel)
	_, err = alice.FineTuning.Jobs.Cancel(ctx, job.ID)
	require.Equal(t, http.StatusBadRequest, statusOf(err), "a finished job cannot be cancelled")
	recs := meter.Records("alice")
	require.Len(t, recs, 1)
	require.Equal(t, sectorflow.OutcomeCancelled, recs[0].Outcome)
}

func TestJobsPagination(t *testing.T) {
	r := start(t, nil)
	ctx := context.Background()
	alice := r.client("sk-alice-0001")
	f := uploadFile(t, alice, trainingData(2))
	var ids []string
	for range 3 {
		j := createJob(t, alice, f.ID, 1, 2)
		ids = append([]string{j.ID}, ids...) // newest first
	}
	var got []string
	pager := alice.FineTuning.Jobs.ListAutoPaging(ctx, openai.FineTuningJobListParams{Limit: openai.Int(2)})
	for pager.Next() {
		got = append(got, pager.Current().ID)
	}
	require.NoError(t, pager.Err())
	require.Equal(t, ids, got)
	page, err := alice.FineTuning.Jobs.List(ctx, openai.FineTuningJobListParams{Limit: openai.Int(2)})
	require.NoError(t, err)
	require.True(t, page.HasMore)
	require.Len(t, page.Data, 2)
}

func TestRestartResumesJob(t *testing.T) {
	dataDir := t.TempDir()
	ctx := context.Background()
	r := start(t, &Options{Storage: openStore(t, dataDir+"/a"), CheckpointEvery: 2})
	alice := r.client("sk-alice-0001")
	f := uploadFile(t, alice, trainingData(8))
	job := createJob(t, alice, f.ID, 6, 1) // 48 steps: still running when the server stops
	// Stop the server once a checkpoint past the start is in Storage.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cps, err := alice.FineTuning.Jobs.Checkpoints.List(ctx, job.ID, openai.FineTuningJobCheckpointListParams{})
		require.NoError(t, err)
		if len(cps.Data) > 0 && cps.Data[0].StepNumber >= 4 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no checkpoint after 2 minutes")
		time.Sleep(20 * time.Millisecond)
	}
	t.Log("stopping")
	r.stop(t)
	t.Log("stopped")

	// A second server on the same data resumes the job from its checkpoint.
	store2 := openStore(t, dataDir+"/a")
	r2 := start(t, &Options{Storage: store2, CheckpointEvery: 2})
	alice = r2.client("sk-alice-0001")
	t.Log("restarted")
	done := waitJob(t, alice, job.ID, 3*time.Minute, "succeeded", "failed")
	t.Log("done")
	require.Equal(t, "succeeded", string(done.Status), "%+v", done.Error)
	var resumed, interrupted bool
	pager := alice.FineTuning.Jobs.ListEventsAutoPaging(ctx, job.ID, openai.FineTuningJobListEventsParams{})
	for pager.Next() {
		m := pager.Current().Message
		resumed = resumed || strings.Contains(m, "resumed from the checkpoint at step")
		interrupted = interrupted || strings.Contains(m, "Server shutting down")
	}
	require.NoError(t, pager.Err())
	require.True(t, interrupted)
	require.True(t, resumed, "the job resumed from its checkpoint instead of starting over")
	got, err := alice.Files.Get(ctx, f.ID)
	require.NoError(t, err, "files survive the restart")
	require.Equal(t, f.ID, got.ID)
	models, err := alice.Models.List(ctx)
	require.NoError(t, err)
	require.Len(t, models.Data, 2)
	// The job log carries both runs.
	rc, err := store2.Get(ctx, sectorflow.Key{Tenant: "alice", Kind: sectorflow.KindLog, Name: job.ID + ".log"})
	require.NoError(t, err)
	logText, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	require.Contains(t, string(logText), `"resume":false`)
	require.Contains(t, string(logText), `"resume":true`)
}

func TestAdminDeletesTenant(t *testing.T) {
	store := sectorflow.NewMemoryStore(nil)
	r := start(t, &Options{Storage: store})
	ctx := context.Background()
	alice, bob := r.client("sk-alice-0001"), r.client("sk-bob-00002")
	fa := uploadFile(t, alice, trainingData(2))
	fb := uploadFile(t, bob, trainingData(2))
	createJob(t, alice, fa.ID, 50, 1) // still running when the tenant goes
	resp := doJSON(t, "DELETE", r.url+"/v1/admin/tenants/alice", "sk-admin-003")
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var rep map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rep))
	require.Equal(t, true, rep["deleted"])
	require.Positive(t, rep["objects_removed"])
	for info, err := range store.List(ctx, "alice", "") {
		require.NoError(t, err)
		t.Fatalf("object left after tenant deletion: %v", info.Key)
	}
	_, err := alice.Files.Get(ctx, fa.ID)
	require.Equal(t, http.StatusNotFound, statusOf(err))
	_, err = bob.Files.Get(ctx, fb.ID)
	require.NoError(t, err, "other tenants keep their data")
}

func TestValidationFileAndModelDeletion(t *testing.T) {
	store := sectorflow.NewMemoryStore(nil)
	r := start(t, &Options{Storage: store})
	ctx := context.Background()
	alice := r.client("sk-alice-0001")
	train := uploadFile(t, alice, trainingData(4))
	val, err := alice.Files.New(ctx, openai.FileNewParams{
		File:         openai.File(strings.NewReader(trainingData(2)), "val.jsonl", "application/jsonl"),
		Purpose:      openai.FilePurposeFineTune,
		ExpiresAfter: openai.FileNewParamsExpiresAfter{Seconds: 3600},
	})
	require.NoError(t, err)
	require.InDelta(t, time.Now().Unix()+3600, val.ExpiresAt, 5, "a temporary file")
	job, err := alice.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{
		Model: "llama", TrainingFile: train.ID, ValidationFile: openai.String(val.ID),
		Method: openai.FineTuningJobNewParamsMethod{Type: "supervised", Supervised: openai.SupervisedMethodParam{
			Hyperparameters: openai.SupervisedHyperparameters{
				NEpochs:   openai.SupervisedHyperparametersNEpochsUnion{OfInt: openai.Int(1)},
				BatchSize: openai.SupervisedHyperparametersBatchSizeUnion{OfInt: openai.Int(2)},
			},
		}},
	})
	require.NoError(t, err)
	done := waitJob(t, alice, job.ID, 2*time.Minute, "succeeded", "failed")
	require.Equal(t, "succeeded", string(done.Status), "%+v", done.Error)
	require.Equal(t, val.ID, done.ValidationFile)
	validLoss := false
	events, err := alice.FineTuning.Jobs.ListEvents(ctx, job.ID, openai.FineTuningJobListEventsParams{Limit: openai.Int(100)})
	require.NoError(t, err)
	for _, e := range events.Data {
		validLoss = validLoss || strings.Contains(e.Message, "validation loss=")
	}
	require.True(t, validLoss, "the validation file was evaluated")

	// Deleting the fine-tuned model removes its adapter; the id stops resolving.
	_, err = alice.Chat.Completions.New(ctx, chatParams(done.FineTunedModel, "hi", 2))
	require.NoError(t, err)
	del, err := alice.Models.Delete(ctx, done.FineTunedModel)
	require.NoError(t, err)
	require.True(t, del.Deleted)
	_, err = alice.Chat.Completions.New(ctx, chatParams(done.FineTunedModel, "hi", 2))
	require.Equal(t, http.StatusNotFound, statusOf(err))
	models, err := alice.Models.List(ctx)
	require.NoError(t, err)
	require.Len(t, models.Data, 1)
	for _, err := range store.List(ctx, "alice", "adapter/") {
		require.NoError(t, err)
		t.Fatal("the adapter is still in Storage")
	}
	_, err = alice.Models.Delete(ctx, "llama")
	require.Equal(t, http.StatusForbidden, statusOf(err))
}

func TestFailedJob(t *testing.T) {
	meter := sectorflow.NewMemoryMeter()
	r := start(t, &Options{Meter: meter})
	alice := r.client("sk-alice-0001")
	// A valid line, but longer in tokens than training accepts: only the job can tell.
	f := uploadFile(t, alice, `{"text": "`+strings.Repeat("zq", 6000)+`"}`+"\n")
	job := createJob(t, alice, f.ID, 1, 1)
	done := waitJob(t, alice, job.ID, time.Minute, "failed", "succeeded")
	require.Equal(t, "failed", string(done.Status))
	require.Equal(t, "invalid_training_file", done.Error.Code)
	require.Equal(t, "training_file", done.Error.Param)
	require.Contains(t, done.Error.Message, "line 1")
	require.Empty(t, done.FineTunedModel)
	recs := meter.Records("alice")
	require.Len(t, recs, 1, "a failed job is billed once")
	require.Equal(t, sectorflow.OutcomeFailed, recs[0].Outcome)
	require.Zero(t, recs[0].TrainedTokens)
}
