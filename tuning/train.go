package tuning

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/sectorflow/sdk/internal/model"
)

// TrainingInfoFile is written beside the adapter: what serving needs to reproduce training (EOS
// ids, chat template, dataset statistics, the options used).
const TrainingInfoFile = "sectorflow_training.json"

// Result summarises a finished training run.
type Result struct {
	// AdapterDir holds the final adapter in PEFT format (the output directory itself).
	AdapterDir string
	// Checkpoint is the last checkpoint directory.
	Checkpoint string
	// Steps is the number of optimizer steps done; Loss the last step's training loss.
	Steps int
	Loss  float64
	// EvalLoss is the final validation loss (NaN without a validation set).
	EvalLoss float64
	// Train and Validation describe the prepared datasets.
	Train, Validation Stats
	// ResumedFrom is the checkpoint the run continued from, if any.
	ResumedFrom string
	// TrainedTokens and EvalTokens count the non-padding tokens of all completed steps and
	// evaluation passes since the run first started (resumptions included); ComputeTime is the
	// time this call spent in the training loop. The facade bills these.
	TrainedTokens, EvalTokens int64
	ComputeTime               time.Duration
}

// codec is how text becomes training samples for one model: its tokenizer, its chat template,
// its end-of-turn ids, and the files to ship beside the adapter.
type codec struct {
	tok   Tokenizer
	chat  ChatRenderer
	eos   []int
	files map[string][]byte
	// template is the chat template source, recorded in TrainingInfoFile.
	template string
}

// Train fine-tunes a LoRA adapter for the Hugging Face model in modelDir on the JSONL dataset at
// dataPath and writes it, in PEFT format, to outDir (with checkpoints under outDir/checkpoints).
// Cancelling ctx stops training between steps and keeps the last checkpoint; errors say which
// input is wrong (*DatasetError for dataset lines, ErrBadOption, ErrNoTargets). When training
// stops on an error after it started, the Result returned with the error holds the steps and
// token counts completed so far.
func Train(ctx context.Context, modelDir, dataPath, outDir string, opts *Options) (res *Result, err error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := resolveTargets(o.Targets); err != nil {
		return nil, err
	}
	c, err := loadCodec(modelDir)
	if err != nil {
		return nil, err
	}
	// The data is checked before the weights are read: a bad line should not cost a model load.
	d, err := readData(dataPath, c, o)
	if err != nil {
		return nil, err
	}
	m, _, err := loadModel(modelDir, o.Precision)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if o.BaseModelName == "" {
		o.BaseModelName = modelDir
	}
	return trainPrepared(ctx, m, c, d, outDir, o)
}

// data is a run's prepared training and validation sets.
type data struct {
	path              string
	train, val        []Sample
	trainSt, valStats Stats
}

// readData parses and prepares the training set at path and the validation set, if any.
func readData(path string, c *codec, o Options) (*data, error) {
	d := &data{path: path}
	var err error
	if d.train, d.trainSt, err = readSamples(path, c, o); err != nil {
		return nil, err
	}
	if o.ValidationPath != "" {
		if d.val, d.valStats, err = readSamples(o.ValidationPath, c, o); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// readSamples parses and prepares one dataset file.
func readSamples(path string, c *codec, o Options) ([]Sample, Stats, error) {
	exs, err := ParseFile(path, nil)
	if err != nil {
		return nil, Stats{}, err
	}
	return Prepare(exs, c.tok, c.chat, path, &PrepareOptions{MaxSeqLen: o.MaxSeqLen, Truncate: o.Truncate, EOSIDs: c.eos})
}

// train reads the data and runs Train's work once the model and codec are loaded (o has its
// defaults).
func train(ctx context.Context, m *model.Model, c *codec, dataPath, outDir string, o Options) (*Result, error) {
	d, err := readData(dataPath, c, o)
	if err != nil {
		return nil, err
	}
	return trainPrepared(ctx, m, c, d, outDir, o)
}

// trainPrepared trains on prepared data.
func trainPrepared(ctx context.Context, m *model.Model, c *codec, d *data, outDir string, o Options) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: internal failure: %v", r)
		}
	}()
	for _, set := range []struct {
		path    string
		samples []Sample
	}{{d.path, d.train}, {o.ValidationPath, d.val}} {
		for _, s := range set.samples {
			for i, id := range s.IDs {
				if id < 0 || int(id) >= m.Spec.VocabSize {
					return nil, fmt.Errorf("dataset %s: line %d: token %d is id %d, outside the model's vocabulary of %d", set.path, s.Line, i, id, m.Spec.VocabSize)
				}
			}
		}
	}
	res = &Result{Train: d.trainSt, Validation: d.valStats, EvalLoss: math.NaN()}
	samples, val := d.train, d.val
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	t, err := newTrainer(m, samples, val, outDir, o)
	if err != nil {
		return nil, err
	}
	defer t.st.close()
	if o.Resume != "" {
		if res.ResumedFrom, err = t.resume(o.Resume); err != nil {
			return nil, err
		}
	}
	loopStart := time.Now()
	ckpt, evalLoss, err := t.loop(ctx)
	res.ComputeTime = time.Since(loopStart)
	res.TrainedTokens, res.EvalTokens = t.state.TrainedTokens, t.state.EvalTokens
	if err != nil {
		res.Steps, res.Loss = t.state.Step, t.state.LastLoss
		return res, err // the counts so far, for billing a cancelled or failed run
	}
	if ckpt == "" && res.ResumedFrom != "" {
		ckpt = res.ResumedFrom
	}
	res.Checkpoint, res.EvalLoss = ckpt, evalLoss
	res.Steps, res.Loss, res.AdapterDir = t.state.Step, t.state.LastLoss, outDir
	if err := writeAdapter(outDir, t.set, o.BaseModelName, o.Dropout); err != nil {
		return nil, err
	}
	for name, data := range c.files {
		if err := writeFileAtomic(filepath.Join(outDir, name), data); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := writeTrainingInfo(outDir, c, o, res); err != nil {
		return nil, err
	}
	t.emit(Event{Kind: EventDone, Step: t.state.Step, TotalSteps: t.state.TotalSteps, Epoch: t.state.Epoch,
		Loss: res.Loss, EvalLoss: nanToZero(res.EvalLoss), Checkpoint: ckpt})
	return res, nil
}

func nanToZero(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}

func writeTrainingInfo(dir string, c *codec, o Options, res *Result) error {
	info := map[string]any{
		"eos_token_ids": c.eos,
		"chat_template": c.template,
		"train":         res.Train,
		"steps":         res.Steps,
		"loss":          res.Loss,
		"options": map[string]any{
			"rank": o.Rank, "alpha": o.Alpha, "dropout": o.Dropout, "rslora": o.RSLoRA, "targets": o.Targets,
			"epochs": o.Epochs, "max_steps": o.MaxSteps, "learning_rate": o.LearningRate,
			"schedule": o.Schedule, "warmup_steps": o.WarmupSteps, "weight_decay": o.WeightDecay,
			"max_grad_norm": o.MaxGradNorm, "batch_size": o.BatchSize, "grad_accum": o.GradAccum,
			"max_seq_len": o.MaxSeqLen, "truncate": o.Truncate, "pack": o.Pack, "seed": o.Seed,
		},
	}
	if o.ValidationPath != "" {
		info["validation"] = res.Validation
		info["eval_loss"] = nanToZero(res.EvalLoss)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // chat templates are full of <|...|>
	enc.SetIndent("", "  ")
	if err := enc.Encode(info); err != nil {
		return fmt.Errorf("write %s: %w", TrainingInfoFile, err)
	}
	return writeFileAtomic(filepath.Join(dir, TrainingInfoFile), buf.Bytes())
}

// ValidateDataset parses and tokenizes the JSONL dataset at dataPath with the tokenizer and chat
// template of the model in modelDir (its weights are not read), and returns its statistics. The
// errors are those Train would report for the data: a *DatasetError listing every bad line, or
// ErrNoTargets. Only opts' MaxSeqLen and Truncate matter.
func ValidateDataset(ctx context.Context, modelDir, dataPath string, opts *Options) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	o, err := opts.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	c, err := loadCodec(modelDir)
	if err != nil {
		return Stats{}, err
	}
	_, stats, err := readSamples(dataPath, c, o)
	return stats, err
}
