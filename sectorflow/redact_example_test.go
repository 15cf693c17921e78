package sectorflow_test

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/sectorflow/sdk/sectorflow"
)

func ExamplePatternRedactor() {
	r, err := sectorflow.NewPatternRedactor(&sectorflow.RedactorOptions{
		Secrets: []sectorflow.Secret{sectorflow.NewSecret("s3cr3t-db-pass")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Redact("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"))
	fmt.Println(r.Redact("retrying with s3cr3t-db-pass (base64 czNjcjN0LWRiLXBhc3M=)"))
	fmt.Println(r.Redact(`{"user": "bob", "client_secret": "x7f!Qa9"}`))
	fmt.Println(r.Redact("Authorization: Bearer abcdef0123456789abcdef"))
	// Output:
	// export AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key-id]
	// retrying with [REDACTED:secret] (base64 [REDACTED:secret])
	// {"user": "bob", "client_secret": "[REDACTED:secret]"}
	// Authorization: Bearer [REDACTED:authorization]
}

func ExampleNewJobLogWriter() {
	r, err := sectorflow.NewPatternRedactor(&sectorflow.RedactorOptions{
		Secrets: []sectorflow.Secret{sectorflow.NewSecret("wandb-0123456789")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	w := sectorflow.NewJobLogWriter(os.Stdout, r)
	// A secret split across writes is still caught: lines are redacted once complete.
	fmt.Fprint(w, "step 1 loss=2.31 key=wandb-01")
	fmt.Fprint(w, "23456789\nstep 2 loss=2.17\n")
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// step 1 loss=2.31 key=[REDACTED:secret]
	// step 2 loss=2.17
}

func ExampleNewRedactingHandler() {
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{} // stable output for the example
		}
		return a
	}}
	logger := slog.New(sectorflow.NewRedactingHandler(slog.NewTextHandler(os.Stdout, opts), nil))
	logger.Info("clone https://x-access-token:ghs_0123456789abcdefghijABCDEFGHIJ012345@github.com/acme/data",
		"password", "hunter2", "hf", sectorflow.NewSecret("hf_live"))
	// Output:
	// level=INFO msg="clone https://x-access-token:[REDACTED:github-token]@github.com/acme/data" password=[REDACTED:password] hf=[REDACTED:secret]
}
