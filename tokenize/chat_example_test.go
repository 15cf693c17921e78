package tokenize_test

import (
	"fmt"

	"github.com/sectorflow/sdk/tokenize"
)

func ExampleChatTemplate() {
	const chatML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | trim }}<|im_end|>\n{% endfor %}" +
		"{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
	ct, err := tokenize.NewChatTemplate(chatML, map[string]any{"eos_token": "<|im_end|>"})
	if err != nil {
		fmt.Println(err)
		return
	}
	msgs := []tokenize.Message{{Role: "user", Content: " What is 2+2? "}, {Role: "assistant", Content: "4"}}
	prompt, _ := ct.Render(msgs[:1], &tokenize.ChatOptions{AddGenerationPrompt: true})
	fmt.Printf("%q\n", prompt)
	rendered, spans, _ := ct.AssistantSpans(msgs, nil)
	fmt.Printf("%q\n", rendered[spans[0].Start:spans[0].End])
	// Output:
	// "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
	// "4<|im_end|>\n"
}
