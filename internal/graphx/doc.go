// Package graphx holds graph-building code shared by the architectures, the tuning engine and the
// inference engine, where GoMLX v0.26.0's defaults are too slow or missing on the pure-Go backend.
//
// Importing the package replaces GoMLX's gradient of DotGeneral with [DotGeneralVJP], which
// computes the two operand gradients as two DotGenerals instead of materialising the broadcast
// product of the adjoint and the other operand (a LoRA step took 16.9 s with GoMLX's own rule and
// 1.0 s with this one). The replacement happens in init, through GoMLX's public registry
// graph.VJPRegistration, so every graph built after the import uses it; [Install] documents the
// dependency at call sites that want to be explicit.
package graphx
