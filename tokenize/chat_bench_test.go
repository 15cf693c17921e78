package tokenize

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkChatTemplateRender renders a 20-turn conversation with Qwen3's template (the most
// involved of the fixtures: a reverse scan with a namespace, string methods, think blocks).
func BenchmarkChatTemplateRender(b *testing.B) {
	ct := loadFixtureChatTemplate(b, filepath.Join("testdata", "chat_templates", "qwen3", "tokenizer_config.json"))
	msgs := []Message{{Role: "system", Content: "You are a helpful assistant."}}
	for i := 0; i < 10; i++ {
		msgs = append(msgs,
			Message{Role: "user", Content: fmt.Sprintf("Question %d: what is %d + %d?", i, i, i)},
			Message{Role: "assistant", Content: fmt.Sprintf("<think>\nadd them\n</think>\n\n%d", 2*i)})
	}
	opts := &ChatOptions{AddGenerationPrompt: true}
	out, err := ct.Render(msgs, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ct.Render(msgs, opts); err != nil {
			b.Fatal(err)
		}
	}
}
