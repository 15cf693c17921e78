package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeChatConfig writes a tokenizer_config.json (and optionally chat_template.jinja) to a
// temporary directory.
func writeChatConfig(t *testing.T, config, jinjaFile string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(config), 0o644))
	if jinjaFile != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte(jinjaFile), 0o644))
	}
	return dir
}

func TestTemplateCommand(t *testing.T) {
	tiny := filepath.Join("..", "..", "testdata", "models", "qwen3")
	question := `{"messages": [{"role": "user", "content": "What is the capital of France?"}]}` + "\n"
	raising := writeChatConfig(t, `{"chat_template": "{% if messages[0].role != 'user' %}{{ raise_exception('first role is ' ~ messages[0].role) }}{% endif %}{{ bos_token }}{{ messages|length }}", "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": null}`, "")
	named := writeChatConfig(t, `{"chat_template": [{"name": "default", "template": "plain"}, {"name": "tool_use", "template": "{{ tools[0]|tojson }}"}]}`, "")
	jinjaFile := writeChatConfig(t, `{"chat_template": "from the config"}`, "from the file {{ messages[0].content }}\n")
	broken := writeChatConfig(t, `{"chat_template": "line 1\n{% for m in messages %}"}`, "")
	noTemplate := writeChatConfig(t, `{"bos_token": "<s>"}`, "")
	tests := []struct {
		name   string
		args   []string
		stdin  string
		want   string
		code   int
		stderr string
	}{
		// The prompt of the tiny model's expected/prompt.json, which Hugging Face rendered.
		{"generation prompt", []string{"template", "--tokenizer", tiny, "--add-generation-prompt"}, question,
			`{"rendered":"` + strings.ReplaceAll(tinyPrompt, "\n", `\n`) + `"}` + "\n", 0, ""},
		{"no generation prompt", []string{"template", "--tokenizer", tiny}, question,
			`{"rendered":"<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"}` + "\n", 0, ""},
		{"continue final message", []string{"template", "--tokenizer", tiny, "--continue-final-message"},
			`{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "The capital is"}]}` + "\n",
			`{"rendered":"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nThe capital is"}` + "\n", 0, ""},
		{"config file path", []string{"template", "--tokenizer", filepath.Join(tiny, "tokenizer_config.json")}, question,
			`{"rendered":"<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"}` + "\n", 0, ""},
		{"raise and added-token bos", []string{"template", "--tokenizer", raising},
			`{"messages": [{"role": "system", "content": "x"}]}` + "\n" + `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}` + "\n",
			`{"error":"first role is system"}` + "\n" + `{"rendered":"<s>2"}` + "\n", 0, ""},
		{"bad lines keep their place", []string{"template", "--tokenizer", raising},
			"not json\n" + `{"messages": [{"role": 3}]}` + "\n" + `{"messages": [{"role": "user"}]}` + "\n",
			`{"error":"input line 1: want a JSON object with \"messages\": invalid character 'o' in literal null (expecting 'u')"}` + "\n" +
				`{"error":"input line 2: want a JSON object with \"messages\": decode message: role: want a string, found 3"}` + "\n" +
				`{"rendered":"<s>1"}` + "\n", 0, ""},
		{"tool_use template keeps key order", []string{"template", "--tokenizer", named},
			`{"messages": [], "tools": [{"z": 1, "a": {"y": 2.0, "b": null}}]}` + "\n" + `{"messages": []}` + "\n",
			`{"rendered":"{\"z\": 1, \"a\": {\"y\": 2.0, \"b\": null}}"}` + "\n" + `{"rendered":"plain"}` + "\n", 0, ""},
		{"chat_template.jinja wins", []string{"template", "--tokenizer", jinjaFile},
			`{"messages": [{"role": "user", "content": "hi"}]}` + "\n", `{"rendered":"from the file hi"}` + "\n", 0, ""},
		{"template kwargs", []string{"template", "--tokenizer", writeChatConfig(t, `{"chat_template": "{{ enable_thinking }}/{{ x is defined }}"}`, "")},
			`{"messages": [], "template_kwargs": {"enable_thinking": false}}` + "\n", `{"rendered":"False/False"}` + "\n", 0, ""},
		{"syntax error names the line", []string{"template", "--tokenizer", broken}, question, "", 1, "line 2"},
		{"no template", []string{"template", "--tokenizer", noTemplate}, question, "", 1, "no chat_template"},
		{"missing directory", []string{"template", "--tokenizer", filepath.Join(noTemplate, "nope")}, question, "", 1, "no such file"},
		{"missing flag", []string{"template"}, question, "", 2, "usage"},
		{"extra argument", []string{"template", "--tokenizer", tiny, "extra"}, question, "", 2, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runMain(tt.args, strings.NewReader(tt.stdin), &out, &errb)
			require.Equal(t, tt.code, code, errb.String())
			if tt.code == 0 {
				require.Equal(t, tt.want, out.String())
			}
			require.Contains(t, errb.String(), tt.stderr)
		})
	}
}
