package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sectorflow/sdk/tokenize"
)

func init() {
	register(command{
		name:    "template",
		summary: "render chat conversations with a tokenizer's chat template (as transformers does)",
		run:     runTemplate,
	})
}

// templateLineLimit bounds one input line of the template command.
const templateLineLimit = 64 << 20

// templateInput is one line of the template command's input.
type templateInput struct {
	Messages       []tokenize.Message `json:"messages"`
	Tools          []json.RawMessage  `json:"tools"`
	TemplateKwargs map[string]any     `json:"template_kwargs"`
}

// templateOutput is one line of its output: the rendering or the error.
type templateOutput struct {
	Rendered *string `json:"rendered,omitempty"`
	Error    string  `json:"error,omitempty"`
}

func runTemplate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("template", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("tokenizer", "", "model directory with tokenizer_config.json (or the file itself) (required)")
	gen := fs.Bool("add-generation-prompt", false, "end with the assistant's generation prompt")
	cont := fs.Bool("continue-final-message", false, "end inside the final message, without its end-of-turn marker (prefill)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sectorflow template --tokenizer DIR [--add-generation-prompt | --continue-final-message] < conversations.jsonl")
		fmt.Fprintln(stderr, `Reads {"messages": [...], "tools": [...], "template_kwargs": {...}} lines and writes one`)
		fmt.Fprintln(stderr, `{"rendered": "..."} line per input, or {"error": "..."} when the template raises or the line is invalid.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{2}
	}
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	cfg, err := readChatConfig(*dir)
	if err != nil {
		return err
	}
	templates := map[string]*tokenize.ChatTemplate{}
	for name, src := range cfg.templates {
		ct, err := tokenize.NewChatTemplate(src, cfg.special)
		if err != nil {
			return fmt.Errorf("chat template %q of %s: %w", name, cfg.path, err)
		}
		templates[name] = ct
	}

	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 0, 64<<10), templateLineLimit)
	for line := 1; sc.Scan(); line++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var out templateOutput
		var in templateInput
		if err := json.Unmarshal(sc.Bytes(), &in); err != nil {
			out.Error = fmt.Sprintf("input line %d: want a JSON object with \"messages\": %v", line, err)
		} else {
			opts := &tokenize.ChatOptions{AddGenerationPrompt: *gen, ContinueFinalMessage: *cont, Vars: in.TemplateKwargs}
			for _, t := range in.Tools {
				opts.Tools = append(opts.Tools, t)
			}
			ct := templates["default"]
			if len(in.Tools) > 0 && templates["tool_use"] != nil {
				ct = templates["tool_use"] // transformers picks the tool_use template when tools are given
			}
			if ct == nil {
				out.Error = fmt.Sprintf("input line %d: %s has no default chat template (found %d named ones)", line, cfg.path, len(templates))
			} else if s, err := ct.Render(in.Messages, opts); err != nil {
				out.Error = err.Error()
			} else {
				out.Rendered = &s
			}
		}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	return nil
}

// chatConfig is what the template command needs from tokenizer_config.json.
type chatConfig struct {
	path      string
	templates map[string]string // "default", and any named ones such as "tool_use"
	special   map[string]any
}

// readChatConfig reads the chat template and special tokens of a model directory (or of a
// tokenizer_config.json path). A chat_template.jinja file beside it takes precedence, as in
// recent transformers.
func readChatConfig(path string) (*chatConfig, error) {
	cfgPath := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		cfgPath = filepath.Join(path, "tokenizer_config.json")
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("read chat template: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("read %s: want a JSON object: %w", cfgPath, err)
	}
	cfg := &chatConfig{path: cfgPath, templates: map[string]string{}, special: map[string]any{}}
	for k, v := range raw {
		switch k {
		case "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "additional_special_tokens":
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				return nil, fmt.Errorf("read %s: %s: %w", cfgPath, k, err)
			}
			cfg.special[k] = x
		}
	}
	if t, ok := raw["chat_template"]; ok && string(t) != "null" {
		var s string
		var named []struct {
			Name     string `json:"name"`
			Template string `json:"template"`
		}
		switch {
		case json.Unmarshal(t, &s) == nil:
			cfg.templates["default"] = s
		case json.Unmarshal(t, &named) == nil:
			for _, n := range named {
				cfg.templates[n.Name] = n.Template
			}
		default:
			return nil, fmt.Errorf("read %s: chat_template: want a string or a list of {\"name\", \"template\"}, found %.60s", cfgPath, t)
		}
	}
	if jinjaFile, err := os.ReadFile(filepath.Join(filepath.Dir(cfgPath), "chat_template.jinja")); err == nil {
		cfg.templates["default"] = string(jinjaFile)
	}
	if len(cfg.templates) == 0 {
		return nil, fmt.Errorf("read %s: no chat_template (and no chat_template.jinja beside it)", cfgPath)
	}
	return cfg, nil
}
