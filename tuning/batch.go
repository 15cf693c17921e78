package tuning

import (
	"math/rand/v2"
	"slices"
)

// batch is one micro-batch on the host: Rows sequences of Len tokens, row-major.
//
// Each row holds one sample (bucketed batching) or several (packing). Segments tells them apart:
// token t of a row belongs to sample Segments[t] (1-based within the row; 0 is padding). A token
// may attend only to earlier tokens of its own segment, and Positions restart at 0 for every
// sample, so a packed sample computes exactly what it would compute alone.
type batch struct {
	Rows, Len int
	// IDs are the input tokens (padding uses id 0).
	IDs []int32
	// Positions are each token's position within its own sample.
	Positions []int32
	// Segments are the 1-based sample index within the row, 0 for padding.
	Segments []int32
	// Labels[t] is the token position t must predict, or -1 when position t has no target
	// (prompt tokens, the last token of a sample, padding).
	Labels []int32
	// Samples is how many samples the batch holds; TargetTokens how many labels are not -1.
	Samples, TargetTokens int
}

// Allowed reports whether, in row r, query position q may attend to key position k.
// Padding positions attend only to themselves so that every softmax row is well defined.
func (b *batch) Allowed(r, q, k int) bool {
	sq, sk := b.Segments[r*b.Len+q], b.Segments[r*b.Len+k]
	if sq == 0 {
		return q == k
	}
	return sq == sk && k <= q
}

// bucketLen rounds n up to the next bucket: a power of two at least 16, capped at maxLen (so at
// most a handful of shapes are ever compiled).
func bucketLen(n, maxLen int) int {
	b := 16
	for b < n {
		b *= 2
	}
	if b > maxLen && n <= maxLen {
		return maxLen
	}
	return b
}

// packSearchRows is how many of the latest rows packing tries before opening a new one.
const packSearchRows = 64

// batchPlan is one micro-batch as sample indices per row.
type batchPlan [][]int

// planEpoch orders the samples of one epoch into micro-batches; it depends only on (lengths,
// batchSize, pack, packLen, seed, epoch), so a resumed run rebuilds exactly the same plan.
//
// Without packing, samples are shuffled, then sorted by length inside windows of 32 batches so
// that each batch pads little, and the batches are shuffled again. With packing, shuffled samples
// are placed first-fit into rows of packLen tokens, and rows are grouped batchSize at a time.
func planEpoch(lengths []int, batchSize int, pack bool, packLen int, seed uint64, epoch int) []batchPlan {
	rng := rand.New(rand.NewPCG(seed, uint64(epoch)+0x9e3779b97f4a7c15))
	order := rng.Perm(len(lengths))
	var plans []batchPlan
	if pack {
		var rows [][]int
		var fill []int
		for _, i := range order {
			placed := false
			// First fit among the most recent rows only: linear time on large datasets, and
			// older rows are nearly full anyway.
			for r := max(0, len(rows)-packSearchRows); r < len(rows); r++ {
				if fill[r]+lengths[i] <= packLen {
					rows[r] = append(rows[r], i)
					fill[r] += lengths[i]
					placed = true
					break
				}
			}
			if !placed {
				rows = append(rows, []int{i})
				fill = append(fill, lengths[i])
			}
		}
		for start := 0; start < len(rows); start += batchSize {
			end := min(start+batchSize, len(rows))
			plans = append(plans, batchPlan(rows[start:end]))
		}
	} else {
		window := 32 * batchSize
		for start := 0; start < len(order); start += window {
			chunk := slices.Clone(order[start:min(start+window, len(order))])
			slices.SortStableFunc(chunk, func(a, b int) int { return lengths[a] - lengths[b] })
			for bs := 0; bs < len(chunk); bs += batchSize {
				var p batchPlan
				for _, i := range chunk[bs:min(bs+batchSize, len(chunk))] {
					p = append(p, []int{i})
				}
				plans = append(plans, p)
			}
		}
	}
	rng.Shuffle(len(plans), func(i, j int) { plans[i], plans[j] = plans[j], plans[i] })
	return plans
}

// buildBatch lays the planned samples out as a Batch padded to a bucketed length and to at least
// minRows rows (empty rows are all padding), so that a run compiles one program per length
// bucket rather than one per (rows, length) pair.
func buildBatch(samples []Sample, plan batchPlan, maxLen, minRows int) *batch {
	longest := 1
	for _, row := range plan {
		n := 0
		for _, i := range row {
			n += len(samples[i].IDs)
		}
		longest = max(longest, n)
	}
	b := &batch{Rows: max(len(plan), minRows), Len: bucketLen(longest, maxLen)}
	size := b.Rows * b.Len
	b.IDs = make([]int32, size)
	b.Positions = make([]int32, size)
	b.Segments = make([]int32, size)
	b.Labels = make([]int32, size)
	for i := range b.Labels {
		b.Labels[i] = -1
	}
	for r, row := range plan {
		off := r * b.Len
		for seg, i := range row {
			s := samples[i]
			for t, id := range s.IDs {
				b.IDs[off+t] = id
				b.Positions[off+t] = int32(t)
				b.Segments[off+t] = int32(seg + 1)
				if t+1 < len(s.IDs) && s.Targets[t+1] {
					b.Labels[off+t] = s.IDs[t+1]
					b.TargetTokens++
				}
			}
			off += len(s.IDs)
			b.Samples++
		}
	}
	return b
}
