package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/sectorflow/sdk/sectorflow"
	"github.com/sectorflow/sdk/sectorflow/server"
)

func init() {
	register(command{
		name:    "serve",
		summary: "serve the OpenAI-compatible API (chat, completions, files, fine-tuning jobs)",
		run:     runServe,
	})
}

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelDir := fs.String("model", "", "base model directory (Hugging Face layout)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	data := fs.String("data", "", "data directory: files, jobs, checkpoints, adapters, logs and usage.jsonl (default: in memory, lost on exit)")
	keysFile := fs.String("keys", "", "API keys file: one \"API-KEY TENANT [admin]\" per line (default: no authentication, tenant \"default\")")
	name := fs.String("model-name", "", "id the base model is served under (default: the model directory's name)")
	maxBatch := fs.Int("max-batch", 0, "requests decoded together (default 8)")
	queue := fs.Int("queue-size", 0, "requests waiting for a slot before 429 (default 256)")
	maxContext := fs.Int("max-context", 0, "prompt plus completion tokens per request (default: the model's, at most 2048)")
	backend := fs.String("backend", "", "compute backend, as GOMLX_BACKEND (default: pure Go unless a PJRT plugin is installed)")
	precision := fs.String("precision", "float32", "float32, or bfloat16 (bf16 weights and matrix products: use it on GPUs)")
	jobs := fs.Int("max-concurrent-jobs", 1, "fine-tuning jobs training at once")
	ckpt := fs.Int("checkpoint-every", server.DefaultCheckpointEvery, "save a resumable checkpoint every N training steps")
	masterKeyEnv := fs.String("master-key-env", "", "encrypt data at rest with AES-256-GCM keys derived from the master key in this environment variable (32+ bytes)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); with --tls-key, serve HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	verbose := fs.Bool("v", false, "log diagnostics to stderr")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	if *modelDir == "" {
		fmt.Fprintln(stderr, "serve: --model is required")
		fs.Usage()
		return exitError{2}
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("expected both --tls-cert and --tls-key, or neither")
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	opts := &server.Options{ModelName: *name, MaxBatch: *maxBatch, QueueSize: *queue, MaxContext: *maxContext,
		Backend: *backend, Precision: *precision, MaxConcurrentJobs: *jobs, CheckpointEvery: *ckpt, Logger: logger}
	if *keysFile != "" {
		f, err := os.Open(*keysFile)
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		keys, err := server.ParseKeys(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("keys %s: %w", *keysFile, err)
		}
		opts.Keys = keys
	}
	if *data != "" {
		store, meter, err := openData(ctx, *data, *masterKeyEnv)
		if err != nil {
			return err
		}
		defer store.Close()
		defer meter.Close()
		opts.Storage, opts.Meter = store, meter
		opts.WorkDir = filepath.Join(*data, "work")
	} else {
		if *masterKeyEnv != "" {
			return errors.New("--master-key-env needs --data")
		}
		fmt.Fprintln(stderr, "serve: no --data: files, jobs and models live in memory and are lost on exit")
		opts.Meter = sectorflow.NewMemoryMeter()
	}
	srv, err := server.New(ctx, *modelDir, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		srv.Shutdown(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			ln.Close()
			srv.Shutdown(context.Background())
			return fmt.Errorf("tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	fmt.Fprintf(stdout, "serving %s on %s://%s/v1 (Ctrl-C to stop)\n", srvModelName(*name, *modelDir), scheme, ln.Addr())
	start := time.Now()
	err = srv.Serve(ctx, ln)
	fmt.Fprintf(stdout, "stopped after %s\n", time.Since(start).Round(time.Second))
	return err
}

func srvModelName(name, dir string) string {
	if name != "" {
		return name
	}
	return filepath.Base(filepath.Clean(dir))
}

// openData opens the file store (encrypted when a master key is given) and the usage log
// under dir.
func openData(ctx context.Context, dir, masterKeyEnv string) (*sectorflow.Store, *sectorflow.JSONLMeter, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("data directory: %w", err)
	}
	drv, err := sectorflow.OpenFileDriver(filepath.Join(dir, "store"))
	if err != nil {
		return nil, nil, fmt.Errorf("data directory: %w", err)
	}
	var d sectorflow.Driver = drv
	if masterKeyEnv != "" {
		master := os.Getenv(masterKeyEnv)
		if master == "" {
			drv.Close()
			return nil, nil, fmt.Errorf("--master-key-env: expected a master key in $%s, found none", masterKeyEnv)
		}
		keys, err := sectorflow.NewDerivedKeys([]byte(master))
		if err != nil {
			drv.Close()
			return nil, nil, fmt.Errorf("--master-key-env: %w", err)
		}
		d = sectorflow.NewEncryptedDriver(drv, keys)
	}
	store := sectorflow.NewStore(d, nil)
	meter, err := sectorflow.OpenJSONLMeter(ctx, filepath.Join(dir, "usage.jsonl"), nil)
	if err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("usage log: %w", err)
	}
	return store, meter, nil
}
