package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sectorflow/sdk/sectorflow"
)

func init() {
	register(command{
		name:    "redact",
		summary: "censor secrets out of text read from standard input, line by line",
		run:     runRedact,
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return fmt.Sprint(len(*l)) + " values" }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func runRedact(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("redact", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var secrets, secretEnvs, secretFiles stringList
	fs.Var(&secrets, "secret", "an exact secret to censor, also in its base64 and URL-encoded forms (repeatable; visible to other local users in the process list: prefer --secret-env or --secret-file)")
	fs.Var(&secretEnvs, "secret-env", "the name of an environment variable whose value is a secret (repeatable)")
	fs.Var(&secretFiles, "secret-file", "a file with one secret per line (repeatable)")
	noPatterns := fs.Bool("no-patterns", false, "censor only the given secrets, not the built-in patterns")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow redact [--secret VALUE ...] [--secret-env NAME ...] [--secret-file PATH ...] [--no-patterns] < in > out")
		fmt.Fprintln(stderr, "\nReplaces cloud keys, tokens, JWTs, private keys, passwords and the given secrets with [REDACTED:<kind>].")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sectorflow redact: unexpected argument %q: the text is read from standard input\n", fs.Arg(0))
		fs.Usage()
		return exitError{2}
	}
	values := append([]string(nil), secrets...)
	for _, name := range secretEnvs {
		v, ok := os.LookupEnv(name)
		if !ok {
			return fmt.Errorf("--secret-env %s: the variable is not set", name)
		}
		values = append(values, v)
	}
	for _, path := range secretFiles {
		lines, err := readSecretFile(path)
		if err != nil {
			return err
		}
		values = append(values, lines...)
	}
	opts := &sectorflow.RedactorOptions{PatternsOff: *noPatterns}
	for _, v := range values {
		opts.Secrets = append(opts.Secrets, sectorflow.NewSecret(v))
	}
	r, err := sectorflow.NewPatternRedactor(opts)
	if err != nil {
		return err
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	w := sectorflow.NewJobLogWriter(stdout, r)
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(w, stdin)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// Close writes a last line without a newline; on interrupt it writes what was held.
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("redact: %w", err)
	}
	return nil
}

// readSecretFile reads one secret per line, ignoring blank lines and a trailing "\r".
func readSecretFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--secret-file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--secret-file %s: %w", path, err)
	}
	return out, nil
}
