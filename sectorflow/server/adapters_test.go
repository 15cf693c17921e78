package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAdapterEviction(t *testing.T) {
	r := start(t, &Options{MaxLoadedAdapters: 1})
	ctx := context.Background()
	alice := r.client("sk-alice-0001")
	f := uploadFile(t, alice, trainingData(4))
	var models []string
	for range 2 {
		job := createJob(t, alice, f.ID, 1, 2)
		done := waitJob(t, alice, job.ID, 2*time.Minute, "succeeded", "failed")
		require.Equal(t, "succeeded", string(done.Status), "%+v", done.Error)
		models = append(models, done.FineTunedModel)
	}
	answers := map[string]string{}
	for _, m := range []string{models[0], models[1], models[0], models[1]} {
		res, err := alice.Chat.Completions.New(ctx, chatParams(m, "What is code 2?", 6))
		require.NoError(t, err, m)
		if prev, ok := answers[m]; ok {
			require.Equal(t, prev, res.Choices[0].Message.Content, "%s answers the same after a reload", m)
		}
		answers[m] = res.Choices[0].Message.Content
		r.srv.adapters.mu.Lock()
		loaded := len(r.srv.adapters.loads)
		r.srv.adapters.mu.Unlock()
		require.Equal(t, 1, loaded, "at most MaxLoadedAdapters stay loaded")
	}
}
