// Package backend selects and starts the GoMLX compute backend for the whole SDK.
//
// The rule, in order:
//
//  1. An explicit configuration (Options.Config, else the GOMLX_BACKEND environment variable)
//     is honoured. A bare "go" means the pure-Go backend in its safe configuration
//     ("go:ops_sequential"); "go:<options>" is passed through unchanged. A request for a backend
//     that cannot start (XLA not compiled in, no PJRT plugin installed) is an error that says
//     how to install it; nothing is downloaded.
//  2. Otherwise, when this binary has the XLA backend and a PJRT plugin is actually installed
//     (found in PJRT_PLUGIN_LIBRARY_PATH or the directories go-xla searches; a CUDA plugin only
//     counts on a machine with an NVIDIA device), XLA is used.
//  3. Otherwise the pure-Go backend runs as "go:ops_sequential": GoMLX v0.26.0's default
//     parallel scheduler deadlocks on 2-core machines once a graph has more than about four
//     independent matmuls, and "go:parallelism=N" prints to stdout.
//
// GoMLX's XLA backend would download a PJRT plugin from the internet on first use; this package
// turns that off (xla.EnableAutoInstall(false)) and only ever looks at the file system. The XLA
// backend is compiled in only with cgo on linux/amd64 and without the noxla build tag, so a
// machine with only Go (CGO_ENABLED=0) builds and runs on the pure-Go backend.
//
// Starting a GPU plugin (a name or path containing "cuda" or "rocm") passes JAX's memory
// variables XLA_PYTHON_CLIENT_PREALLOCATE, XLA_PYTHON_CLIENT_MEM_FRACTION and
// XLA_PYTHON_CLIENT_ALLOCATOR to the PJRT client as its create options. Starting a CUDA plugin
// also makes float32 matrix products exact float32 (NVIDIA_TF32_OVERRIDE=0 and
// --xla_gpu_enable_triton_gemm=false, unless the user set them or the configuration says
// "xla:cuda,tf32"), since XLA would otherwise run them as TF32 (logits 4e-3 off on an H200,
// against 2e-6 exact), and adds --xla_gpu_cuda_data_dir for the first CUDA directory holding
// nvvm/libdevice ($CUDA_HOME, $CUDA_PATH, pip's nvidia/cu13 beside the plugin,
// /usr/local/cuda), or turns off go-xla's hard-coded guess of it. These change the process
// environment before the plugin loads.
//
// Default returns the process-wide backend and logs, once, at info level, which backend was
// chosen and why.
package backend
