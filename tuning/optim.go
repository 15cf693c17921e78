package tuning

import "math"

// adamW holds the hyper-parameters of PyTorch's torch.optim.AdamW.
type adamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
}

// adamState is the optimizer state of one parameter tensor.
type adamState struct {
	M, V []float32
}

// adamWStep applies one AdamW update to p in place with PyTorch's single-tensor semantics:
// decoupled weight decay p *= 1 - lr*wd, moments m = b1 m + (1-b1) g and v = b2 v + (1-b2) g²,
// then p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). step t is 1-based. Scalars are
// computed in float64 and the element-wise math in float32, as PyTorch does for f32 tensors.
func adamWStep(o adamW, lr float64, t int, p, g []float32, st *adamState) {
	bc1 := 1 - math.Pow(o.Beta1, float64(t))
	bc2Sqrt := math.Sqrt(1 - math.Pow(o.Beta2, float64(t)))
	decay := float32(1 - lr*o.WeightDecay)
	stepSize := float32(lr / bc1)
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	omb1, omb2 := float32(1-o.Beta1), float32(1-o.Beta2)
	bc2 := float32(bc2Sqrt)
	eps := float32(o.Eps)
	for i := range p {
		p[i] *= decay
		m := st.M[i]*b1 + g[i]*omb1
		v := st.V[i]*b2 + g[i]*g[i]*omb2
		st.M[i], st.V[i] = m, v
		denom := float32(math.Sqrt(float64(v)))/bc2 + eps
		p[i] -= stepSize * (m / denom)
	}
}

// clipGlobalNorm scales all gradients so that their joint L2 norm is at most maxNorm, as
// torch.nn.utils.clip_grad_norm_ does (coefficient maxNorm/(norm+1e-6), capped at 1). It returns
// the norm before clipping. maxNorm <= 0 disables clipping.
func clipGlobalNorm(grads [][]float32, maxNorm float64) float64 {
	var sum float64
	for _, g := range grads {
		for _, x := range g {
			sum += float64(x) * float64(x)
		}
	}
	norm := math.Sqrt(sum)
	if maxNorm > 0 {
		coef := maxNorm / (norm + 1e-6)
		if coef < 1 {
			c := float32(coef)
			for _, g := range grads {
				for i := range g {
					g[i] *= c
				}
			}
		}
	}
	return norm
}
