package sectorflow

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func fixtureModel(name string) string { return filepath.Join("..", "testdata", "models", name) }

func TestModelGenerateStreamChatAndUsage(t *testing.T) {
	var mu sync.Mutex
	var records []Usage
	m, err := LoadModel(t.Context(), fixtureModel("llama"), &ModelOptions{MaxContext: 64,
		OnUsage: func(ctx context.Context, u Usage) {
			mu.Lock()
			defer mu.Unlock()
			records = append(records, u)
		}})
	require.NoError(t, err)
	defer m.Close()
	require.Equal(t, "llama", m.Name())
	require.Equal(t, 64, m.MaxContext())
	require.Equal(t, ModelStats{}, m.Stats())
	require.NoError(t, m.LoadAdapter(t.Context(), "tuned", filepath.Join(fixtureModel("llama"), "lora")))
	require.Equal(t, []string{"tuned"}, m.Adapters())

	var want struct {
		Prompt    []int `json:"prompt"`
		Generated []int `json:"generated"`
	}
	data, err := os.ReadFile(filepath.Join(fixtureModel("llama"), "expected", "generate_lora.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &want))

	res, err := m.Generate(t.Context(), &GenerateRequest{ID: "r1", PromptIDs: want.Prompt, Adapter: "tuned", MaxTokens: 16, IgnoreEOS: true})
	require.NoError(t, err)
	require.Equal(t, want.Generated, res.TokenIDs)

	var text string
	var last *GenerateChunk
	for c, err := range m.Stream(t.Context(), &GenerateRequest{ID: "r2", PromptIDs: want.Prompt, Adapter: "tuned", MaxTokens: 16, IgnoreEOS: true}) {
		require.NoError(t, err)
		text += c.Text
		last = c
	}
	require.Equal(t, res.Text, text)
	require.Equal(t, inferenceFinishLength, string(last.FinishReason))

	chat, err := m.Chat(t.Context(), []ChatMessage{{Role: "user", Content: "Hi"}}, &GenerateRequest{ID: "r3", MaxTokens: 4, IgnoreEOS: true})
	require.NoError(t, err)
	require.Len(t, chat.TokenIDs, 4)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, records, 3)
	require.Equal(t, "r1", records[0].ID)
	require.Equal(t, UsageInference, records[0].Kind)
	require.Equal(t, "llama", records[0].Model)
	require.Equal(t, "tuned", records[0].Adapter)
	require.Equal(t, int64(len(want.Prompt)), records[0].PromptTokens)
	require.Equal(t, int64(16), records[0].CompletionTokens)
	require.Equal(t, OutcomeCompleted, records[0].Outcome)
	require.Positive(t, records[0].ComputeTime)
	require.Equal(t, int64(4), records[2].CompletionTokens)
}

const inferenceFinishLength = "length"

func TestModelErrors(t *testing.T) {
	_, err := LoadModel(t.Context(), filepath.Join(t.TempDir(), "missing"), nil)
	require.Error(t, err)
	m, err := LoadModel(t.Context(), fixtureModel("qwen3"), &ModelOptions{MaxContext: 32})
	require.NoError(t, err)
	defer m.Close()
	tests := []struct {
		name string
		req  *GenerateRequest
		is   error
	}{
		{"empty prompt", &GenerateRequest{}, ErrInvalidRequest},
		{"unknown adapter", &GenerateRequest{Prompt: "x", Adapter: "none"}, ErrUnknownAdapter},
		{"negative temperature", &GenerateRequest{Prompt: "x", Sampling: Sampling{Temperature: -1}}, ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Generate(t.Context(), tt.req)
			require.ErrorIs(t, err, tt.is)
		})
	}
	require.ErrorIs(t, m.LoadAdapter(t.Context(), "x", filepath.Join(fixtureModel("llama"), "lora")), ErrInvalidAdapter)
	require.NoError(t, m.Close())
	_, err = m.Generate(t.Context(), &GenerateRequest{Prompt: "x"})
	require.ErrorIs(t, err, ErrModelClosed)
}

func TestModelUsageOutcomes(t *testing.T) {
	var mu sync.Mutex
	got := map[string]Usage{}
	m, err := LoadModel(t.Context(), fixtureModel("qwen3"), &ModelOptions{Name: "tiny", MaxContext: 1024,
		OnUsage: func(ctx context.Context, u Usage) {
			mu.Lock()
			defer mu.Unlock()
			got[u.ID] = u
		}})
	require.NoError(t, err)
	defer m.Close()
	// Breaking out of a stream cancels the request: billed for what it produced, as cancelled.
	n := 0
	for _, err := range m.Stream(t.Context(), &GenerateRequest{ID: "cut", Prompt: "hi", MaxTokens: 1000, IgnoreEOS: true}) {
		require.NoError(t, err)
		if n++; n == 2 {
			break
		}
	}
	// A rejected request is not billed.
	_, err = m.Generate(t.Context(), &GenerateRequest{ID: "bad", Prompt: "hi", Sampling: Sampling{TopP: 2}})
	require.ErrorIs(t, err, ErrInvalidRequest)
	mu.Lock()
	defer mu.Unlock()
	require.NotContains(t, got, "bad")
	require.Contains(t, got, "cut")
	require.Equal(t, OutcomeCancelled, got["cut"].Outcome)
	require.Equal(t, "tiny", got["cut"].Model)
	require.GreaterOrEqual(t, got["cut"].CompletionTokens, int64(2))
	require.Less(t, got["cut"].CompletionTokens, int64(1000))
}

// TestModelPrecision: ModelOptions.Precision reaches the engine (bfloat16 generates, with the
// fixture's wide-margin first token), and a precision the SDK does not have is refused at load.
func TestModelPrecision(t *testing.T) {
	m, err := LoadModel(t.Context(), fixtureModel("llama"), &ModelOptions{MaxContext: 64, Precision: "bfloat16"})
	require.NoError(t, err)
	defer m.Close()
	var want struct {
		Prompt    []int `json:"prompt"`
		Generated []int `json:"generated"`
	}
	data, err := os.ReadFile(filepath.Join(fixtureModel("llama"), "expected", "generate.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &want))
	res, err := m.Generate(t.Context(), &GenerateRequest{PromptIDs: want.Prompt, MaxTokens: 2, IgnoreEOS: true})
	require.NoError(t, err)
	require.Equal(t, want.Generated[0], res.TokenIDs[0])

	_, err = LoadModel(t.Context(), fixtureModel("llama"), &ModelOptions{Precision: "int8"})
	require.ErrorContains(t, err, `precision "int8": want float32 or bfloat16`)
}
