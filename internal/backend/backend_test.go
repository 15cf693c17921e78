package backend

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

func fakeEnv(vars map[string]string, hasXLA bool, plugins ...Plugin) environment {
	return environment{
		lookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		hasXLA:    hasXLA,
		plugins:   func() []Plugin { return plugins },
	}
}

var (
	cpuPlugin  = Plugin{Name: "cpu", Path: "/opt/pjrt/pjrt_c_api_cpu_plugin.so"}
	cudaPlugin = Plugin{Name: "cuda", Path: "/opt/pjrt/pjrt_c_api_cuda_plugin.so"}
)

func TestChoose(t *testing.T) {
	tests := []struct {
		name       string
		opts       *Options
		env        environment
		want       string
		explicit   bool
		wantReason string
	}{
		{"nothing, no xla", nil, fakeEnv(nil, false), SafeGo, false, "built without the XLA backend"},
		{"nothing, no plugin", nil, fakeEnv(nil, true), SafeGo, false, "no XLA PJRT plugin is installed"},
		{"blank env is nothing", nil, fakeEnv(map[string]string{EnvVar: "  "}, true), SafeGo, false, "no XLA PJRT plugin"},
		{"cpu plugin installed", nil, fakeEnv(nil, true, cpuPlugin), "xla:cpu", false, `PJRT plugin "cpu" found at /opt/pjrt/pjrt_c_api_cpu_plugin.so`},
		{"cuda preferred", nil, fakeEnv(nil, true, cpuPlugin, cudaPlugin), "xla:cuda", false, `"cuda"`},
		{"plugin but no xla", nil, fakeEnv(nil, false, cpuPlugin), SafeGo, false, "built without"},
		{"env go is made safe", nil, fakeEnv(map[string]string{EnvVar: "go"}, true, cpuPlugin), SafeGo, true, "set by GOMLX_BACKEND"},
		{"env go options honoured", nil, fakeEnv(map[string]string{EnvVar: "go:ops_parallel"}, true), "go:ops_parallel", true, "pure-Go"},
		{"option beats env", &Options{Config: "go"}, fakeEnv(map[string]string{EnvVar: "xla:cuda"}, true), SafeGo, true, "requested by the caller"},
		{"env xla picks installed", nil, fakeEnv(map[string]string{EnvVar: "xla"}, true, cpuPlugin), "xla:cpu", true, "found at"},
		{"env xla:cpu", nil, fakeEnv(map[string]string{EnvVar: "xla:cpu"}, true, cpuPlugin, cudaPlugin), "xla:cpu", true, "found at"},
		{"env xla absolute path", nil, fakeEnv(map[string]string{EnvVar: "xla:" + os.Args[0]}, true), "xla:" + os.Args[0], true, "XLA backend set by"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := choose(tc.opts, tc.env)
			require.NoError(t, err)
			require.Equal(t, tc.want, c.Config)
			require.Equal(t, tc.explicit, c.Explicit)
			require.Contains(t, c.Reason, tc.wantReason)
		})
	}
}

func TestChooseUnavailable(t *testing.T) {
	tests := []struct {
		name    string
		env     environment
		wantErr string
	}{
		{"xla not compiled in", fakeEnv(map[string]string{EnvVar: "xla:cuda"}, false), "built without the XLA backend; rebuild with cgo enabled"},
		{"plugin missing", fakeEnv(map[string]string{EnvVar: "xla:cuda"}, true, cpuPlugin), `PJRT plugin "cuda" is not installed (found cpu); the CUDA plugin needs an NVIDIA GPU`},
		{"no plugin at all", fakeEnv(map[string]string{EnvVar: "xla"}, true), "no PJRT plugin is installed; install a PJRT plugin as pjrt_c_api_<name>_plugin.so"},
		{"missing absolute plugin", fakeEnv(map[string]string{EnvVar: "xla:/nonexistent/pjrt_c_api_cpu_plugin.so"}, true), "PJRT plugin /nonexistent/pjrt_c_api_cpu_plugin.so"},
		{"unknown backend", fakeEnv(map[string]string{EnvVar: "tpu"}, true), `unknown backend "tpu", want one of go, xla`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := choose(nil, tc.env)
			require.ErrorIs(t, err, ErrUnavailable)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestNewExplicitUnavailable(t *testing.T) {
	t.Setenv(PluginPathEnv, t.TempDir()) // an empty plugin directory
	_, _, err := New(&Options{Config: "xla:cuda"})
	require.ErrorIs(t, err, ErrUnavailable)
	_, _, err = New(&Options{Config: "nope"})
	require.ErrorIs(t, err, ErrUnavailable)
}

func TestFindPlugins(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	for _, f := range []string{filepath.Join(d1, "pjrt_c_api_cpu_plugin.so"), filepath.Join(d1, "libfoo.so"),
		filepath.Join(d1, "pjrt_c_api_cuda_plugin.so"), filepath.Join(d2, "pjrt_c_api_cpu_plugin.so"),
		filepath.Join(d2, "pjrt-plugin-tpu.so")} {
		require.NoError(t, os.WriteFile(f, nil, 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(d2, "pjrt_plugin_dir.so"), 0o755))
	orig := hasNvidiaDevice
	defer func() { hasNvidiaDevice = orig }()

	hasNvidiaDevice = func() bool { return false }
	require.Equal(t, []Plugin{{"cpu", filepath.Join(d1, "pjrt_c_api_cpu_plugin.so")}, {"tpu", filepath.Join(d2, "pjrt-plugin-tpu.so")}},
		FindPlugins([]string{d1, "/nonexistent", d2}))

	hasNvidiaDevice = func() bool { return true }
	require.Equal(t, []Plugin{{"cpu", filepath.Join(d1, "pjrt_c_api_cpu_plugin.so")}, {"cuda", filepath.Join(d1, "pjrt_c_api_cuda_plugin.so")}},
		FindPlugins([]string{d1}))
}

func TestSearchPaths(t *testing.T) {
	t.Setenv(PluginPathEnv, "/a:/b::/c")
	require.Equal(t, []string{"/a", "/b", "/c"}, SearchPaths())

	dir := t.TempDir()
	conf := filepath.Join(dir, "ld.so.conf")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755))
	require.NoError(t, os.WriteFile(conf, []byte("# comment\ninclude "+filepath.Join(dir, "conf.d", "*.conf")+"\n/usr/lib/x\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "conf.d", "a.conf"), []byte("/opt/a\n\n"), 0o644))
	require.Equal(t, []string{"/first", "/opt/a", "/usr/lib/x"}, ldConfPaths([]string{"/first"}, conf, 0))
}

// TestDefaultManyIndependentMatmuls runs a graph with eight independent matmuls on Default().
// On GoMLX v0.26.0's plain "go" backend this deadlocks on a 2-core machine (its worker pool waits
// for workers while holding one); the safe default must finish. The goroutine + select turns a
// hang into a failure instead of a stuck test binary.
func TestDefaultManyIndependentMatmuls(t *testing.T) {
	b, err := Default()
	require.NoError(t, err)
	require.Equal(t, b, must(Default()), "Default returns one process-wide backend")
	if os.Getenv(EnvVar) == "" && len(FindPlugins(SearchPaths())) == 0 {
		require.Equal(t, SafeGo, DefaultChoice().Config)
	}
	const n, k = 32, 8
	done := make(chan []float32, 1)
	errc := make(chan error, 1)
	go func() {
		out, err := runMatmuls(b, n, k)
		if err != nil {
			errc <- err
			return
		}
		done <- out
	}()
	select {
	case out := <-done:
		// ones[n,n] x (i+1)*ones[n,n] = n*(i+1) everywhere; summed over i = n * k(k+1)/2.
		require.Len(t, out, n*n)
		for _, v := range out {
			require.Equal(t, float32(n*k*(k+1)/2), v)
		}
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("graph with %d independent matmuls did not finish on backend %q: the default configuration deadlocks", k, DefaultChoice().Config)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func runMatmuls(b backends.Backend, n, k int) (out []float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("graph panicked")
		}
	}()
	exec, err := graph.NewExec(b, func(x *graph.Node) *graph.Node {
		var sum *graph.Node
		for i := 0; i < k; i++ {
			w := make([]float32, n*n)
			for j := range w {
				w[j] = float32(i + 1)
			}
			y := graph.MatMul(x, graph.ConstTensor(x.Graph(), tensors.FromFlatDataAndDimensions(w, n, n)))
			if sum == nil {
				sum = y
			} else {
				sum = graph.Add(sum, y)
			}
		}
		return sum
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	ones := make([]float32, n*n)
	for i := range ones {
		ones[i] = 1
	}
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(ones, n, n))
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](outs[0]), nil
}
