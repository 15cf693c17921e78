// Command platform shows how a hosted platform plugs its own contracts into the SDK: a Storage
// (here the SDK's Store over a custom Driver that audits every write, encrypted at rest), a Meter
// (a MeterFunc that would feed a billing system) and a Redactor (the pattern redactor plus the
// exact secrets a customer registered). It runs a fine-tuning job through the server, then
// shows the redacted job log, the usage records and a tenant deletion.
//
//	go run ./examples/platform           # from the repository root
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/sectorflow/sdk/sectorflow/server"
)

func main() {
	model := flag.String("model", "testdata/models/llama", "base model directory (Hugging Face layout)")
	flag.Parse()
	if err := run(context.Background(), *model, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "platform:", err)
		os.Exit(1)
	}
}

// auditDriver is a custom storage backend: it keeps objects in memory (a real platform would
// call its object store here) and counts writes per kind. The Store in front of it validates
// keys and handles retention, so a driver only moves bytes.
type auditDriver struct {
	sectorflow.Driver
	mu     sync.Mutex
	writes map[sectorflow.Kind]int
}

func (a *auditDriver) WriteObject(ctx context.Context, key sectorflow.Key, r io.Reader) error {
	a.mu.Lock()
	a.writes[key.Kind]++
	a.mu.Unlock()
	return a.Driver.WriteObject(ctx, key, r)
}

// The customer's database password: a secret with no recognisable shape, which only an exact
// match can find.
const customerSecret = "correct-horse-battery-staple"

func run(ctx context.Context, modelDir string, out io.Writer) error {
	// Storage: a custom driver, encrypted at rest with per-tenant keys derived from a master key
	// (in production the master key comes from a secret manager).
	audit := &auditDriver{Driver: sectorflow.NewMemoryDriver(), writes: map[sectorflow.Kind]int{}}
	masterKeys, err := sectorflow.NewDerivedKeys([]byte("example master key: 32 bytes or more"))
	if err != nil {
		return err
	}
	store := sectorflow.NewStore(sectorflow.NewEncryptedDriver(audit, masterKeys), nil)

	// Meter: every job and request ends in exactly one usage record.
	var billing []string
	var billingMu sync.Mutex
	meter := sectorflow.MeterFunc(func(ctx context.Context, u sectorflow.Usage) error {
		billingMu.Lock()
		defer billingMu.Unlock()
		billing = append(billing, fmt.Sprintf("%s %s %s: trained=%d prompt=%d completion=%d outcome=%s",
			u.Tenant, u.Kind, u.ID[:12], u.TrainedTokens, u.PromptTokens, u.CompletionTokens, u.Outcome))
		return nil
	})

	// Redactor: the built-in patterns plus the customer's registered secret.
	redactor, err := sectorflow.NewPatternRedactor(&sectorflow.RedactorOptions{
		Secrets: []sectorflow.Secret{sectorflow.NewSecret(customerSecret)},
	})
	if err != nil {
		return err
	}

	keys, err := server.ParseKeys(strings.NewReader("sk-acme-platform-1 acme\nsk-ops-platform-1 ops admin\n"))
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, modelDir, &server.Options{Storage: store, Meter: meter, Redactor: redactor, Keys: keys})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Shutdown(ctx)
		return err
	}
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln) }()
	defer func() { stop(); <-done }()
	base := "http://" + ln.Addr().String() + "/v1/"
	acme := openai.NewClient(option.WithBaseURL(base), option.WithAPIKey("sk-acme-platform-1"))

	// A customer fine-tunes with their secret in the job's metadata.
	file, err := acme.Files.New(ctx, openai.FileNewParams{
		File:    openai.File(strings.NewReader(`{"prompt": "2+2=", "completion": "4"}`+"\n"), "math.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeFineTune,
	})
	if err != nil {
		return err
	}
	job, err := acme.FineTuning.Jobs.New(ctx, openai.FineTuningJobNewParams{
		Model: "llama", TrainingFile: file.ID,
		Metadata: map[string]string{"db": "postgres://app:" + customerSecret + "@db:5432/prod", "note": customerSecret},
		Method: openai.FineTuningJobNewParamsMethod{Type: "supervised", Supervised: openai.SupervisedMethodParam{
			Hyperparameters: openai.SupervisedHyperparameters{NEpochs: openai.SupervisedHyperparametersNEpochsUnion{OfInt: openai.Int(2)}},
		}},
	})
	if err != nil {
		return err
	}
	for job.Status != "succeeded" && job.Status != "failed" {
		time.Sleep(100 * time.Millisecond)
		if job, err = acme.FineTuning.Jobs.Get(ctx, job.ID); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "job %s: %s\n", job.Status, job.FineTunedModel)
	if _, err := acme.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: job.FineTunedModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("2+2=")},
		MaxTokens: openai.Int(4), Temperature: openai.Float(0),
	}); err != nil {
		return err
	}

	// The job log lives in Storage as a temporary object, redacted.
	for info, err := range store.List(ctx, "acme", "log/") {
		if err != nil {
			return err
		}
		rc, err := store.Get(ctx, info.Key)
		if err != nil {
			return err
		}
		logText, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "job log %s: temporary=%v, expires in %v, contains the secret: %v\n", info.Key.Name,
			info.Temporary(), time.Until(info.Expires).Round(24*time.Hour), strings.Contains(string(logText), customerSecret))
		for _, line := range strings.Split(string(logText), "\n") {
			if strings.Contains(line, "metadata") {
				i := strings.Index(line, `"metadata"`)
				fmt.Fprintf(out, "  %s\n", line[i:min(len(line), i+140)])
			}
		}
	}

	// Usage went to the meter: one training record, one inference record.
	billingMu.Lock()
	for _, b := range billing {
		fmt.Fprintf(out, "usage: %s\n", b)
	}
	billingMu.Unlock()
	kinds := make([]string, 0, len(audit.writes))
	for k := range audit.writes {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	fmt.Fprintf(out, "storage writes by kind: %v\n", kinds)

	// Deleting the tenant removes everything it owns.
	req, err := http.NewRequestWithContext(ctx, "DELETE", base+"admin/tenants/acme", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer sk-ops-platform-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	left := 0
	for _, err := range store.List(ctx, "acme", "") {
		if err != nil {
			return err
		}
		left++
	}
	fmt.Fprintf(out, "tenant deleted: HTTP %d, objects left: %d\n", resp.StatusCode, left)
	return nil
}
