package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/sectorflow/sdk/sectorflow"
)

const testModelDir = "../../testdata/models/llama"

// Two tenants and an admin, as a keys file lists them.
const testKeysFile = `# test keys
sk-alice-0001 alice
sk-bob-00002 bob
sk-admin-003 ops admin
`

// running is a server on a loopback socket.
type running struct {
	srv    *Server
	url    string
	cancel context.CancelFunc
	done   chan error
}

// stop shuts the server down as a SIGTERM would, and waits for it.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		require.NoError(t, err)
		r.done <- err // for the cleanup
	case <-time.After(60 * time.Second):
		t.Fatal("server did not shut down within 60s")
	}
}

// start serves a server with opts on 127.0.0.1; it is stopped at the end of the test.
func start(t *testing.T, opts *Options) *running {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Keys == nil {
		keys, err := ParseKeys(strings.NewReader(testKeysFile))
		require.NoError(t, err)
		opts.Keys = keys
	}
	srv, err := New(context.Background(), testModelDir, opts)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{srv: srv, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(60 * time.Second):
		}
	})
	return r
}

// client is the official OpenAI Go client pointed at r with key, with retries off so that a 429
// reaches the test.
func (r *running) client(key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(r.url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0),
		option.WithRequestTimeout(2*time.Minute))
}

// statusOf returns the HTTP status of an API error from the client, 0 for other errors.
func statusOf(err error) int {
	var ae *openai.Error
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// trainingData is a small chat dataset the tiny model can fit in a few steps.
func trainingData(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"messages": [{"role": "user", "content": "What is code %d?"}, {"role": "assistant", "content": "Code %d is blue."}]}`+"\n", i, i)
	}
	return b.String()
}

func uploadFile(t *testing.T, c openai.Client, content string) *openai.FileObject {
	t.Helper()
	f, err := c.Files.New(context.Background(), openai.FileNewParams{
		File:    openai.File(strings.NewReader(content), "train.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeFineTune,
	})
	require.NoError(t, err)
	return f
}

// createJob starts a fine-tuning job with explicit epochs and batch size.
func createJob(t *testing.T, c openai.Client, fileID string, epochs, batch int64, extra ...option.RequestOption) *openai.FineTuningJob {
	t.Helper()
	job, err := c.FineTuning.Jobs.New(context.Background(), openai.FineTuningJobNewParams{
		Model:        "llama",
		TrainingFile: fileID,
		Suffix:       openai.String("e2e"),
		Seed:         openai.Int(7),
		Method: openai.FineTuningJobNewParamsMethod{Type: "supervised", Supervised: openai.SupervisedMethodParam{
			Hyperparameters: openai.SupervisedHyperparameters{
				NEpochs:   openai.SupervisedHyperparametersNEpochsUnion{OfInt: openai.Int(epochs)},
				BatchSize: openai.SupervisedHyperparametersBatchSizeUnion{OfInt: openai.Int(batch)},
			},
		}},
	}, extra...)
	require.NoError(t, err)
	return job
}

// hyper is the JSON path of a hyperparameter (SectorFlow's extensions included) for
// option.WithJSONSet.
func hyper(name string) string { return "method.supervised.hyperparameters." + name }

// waitJob polls a job until its status is one of want, and returns it.
func waitJob(t *testing.T, c openai.Client, id string, timeout time.Duration, want ...openai.FineTuningJobStatus) *openai.FineTuningJob {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		job, err := c.FineTuning.Jobs.Get(context.Background(), id)
		require.NoError(t, err)
		for _, w := range want {
			if job.Status == w {
				return job
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: status %q after %v, want %v (error %+v)", id, job.Status, timeout, want, job.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// doJSON sends a raw request, for what the client does not expose.
func doJSON(t *testing.T, method, url, key string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

func openStore(t *testing.T, dir string) *sectorflow.Store {
	t.Helper()
	st, err := sectorflow.OpenFileStore(dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}
