package tuning

import (
	"fmt"
	"math"
)

// Schedule names a learning-rate schedule.
type Schedule string

const (
	// ScheduleConstant keeps the learning rate after warmup.
	ScheduleConstant Schedule = "constant"
	// ScheduleLinear decays linearly from the peak to 0 at the last step.
	ScheduleLinear Schedule = "linear"
	// ScheduleCosine follows half a cosine from the peak to 0 at the last step.
	ScheduleCosine Schedule = "cosine"
)

// lrFactor is transformers' get_{constant,linear,cosine}_schedule_with_warmup multiplier for
// optimizer step `step` (0-based) of `total`: a linear warmup from 0 over `warmup` steps, then
// the schedule's decay. Like transformers, the first step of a warmup runs at factor 0.
func lrFactor(s Schedule, step, warmup, total int) (float64, error) {
	if step < warmup {
		return float64(step) / float64(max(1, warmup)), nil
	}
	switch s {
	case ScheduleConstant, "":
		return 1, nil
	case ScheduleLinear:
		return math.Max(0, float64(total-step)/float64(max(1, total-warmup))), nil
	case ScheduleCosine:
		progress := float64(step-warmup) / float64(max(1, total-warmup))
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*progress))), nil
	}
	return 0, fmt.Errorf("schedule: expected constant, linear or cosine, found %q", string(s))
}
