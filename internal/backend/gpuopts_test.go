package backend

import (
	"strings"
	"testing"
)

func TestGPUClientOptions(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	cases := []struct {
		name string
		env  map[string]string
		want map[string]any
		err  string
	}{
		{"nothing set", nil, nil, ""},
		{"no preallocation", map[string]string{EnvPreallocate: "false"}, map[string]any{"preallocate": false}, ""},
		{"preallocate 1", map[string]string{EnvPreallocate: " 1 "}, map[string]any{"preallocate": true}, ""},
		{"all three", map[string]string{EnvPreallocate: "FALSE", EnvMemFraction: "0.5", EnvAllocator: "Platform"},
			map[string]any{"preallocate": false, "memory_fraction": float32(0.5), "allocator": "platform"}, ""},
		{"bad bool", map[string]string{EnvPreallocate: "maybe"}, nil, `XLA_PYTHON_CLIENT_PREALLOCATE="maybe": want true or false`},
		{"fraction zero", map[string]string{EnvMemFraction: "0"}, nil, "want a fraction of the GPU's memory in (0, 1]"},
		{"fraction above one", map[string]string{EnvMemFraction: "1.5"}, nil, "in (0, 1]"},
		{"fraction percent", map[string]string{EnvMemFraction: "90%"}, nil, `"90%"`},
		{"fraction NaN", map[string]string{EnvMemFraction: "NaN"}, nil, "in (0, 1]"},
		{"unknown allocator", map[string]string{EnvAllocator: "arena"}, nil, "want one of default, bfc, platform, cuda_async"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := gpuClientOptions(env(c.env))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("options = %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Fatalf("options[%q] = %#v, want %#v", k, got[k], v)
				}
			}
		})
	}
}

func TestIsGPUPlugin(t *testing.T) {
	for plugin, want := range map[string]bool{
		"cuda":   true,
		"cuda13": true,
		"rocm":   true,
		"/usr/lib/python3/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so": true,
		"cpu":                           false,
		"/opt/pjrt_c_api_cpu_plugin.so": false,
		"":                              false,
	} {
		if got := isGPUPlugin(plugin); got != want {
			t.Errorf("isGPUPlugin(%q) = %v, want %v", plugin, got, want)
		}
	}
}

func TestXLAPluginOf(t *testing.T) {
	for config, want := range map[string]string{"xla:cuda": "cuda", "xla:cuda,tf32": "cuda", "stablehlo:/a/b.so,shared_buffers": "/a/b.so", "xla": ""} {
		got, ok := xlaPluginOf(config)
		if !ok || got != want {
			t.Errorf("xlaPluginOf(%q) = %q, %v; want %q, true", config, got, ok, want)
		}
	}
	if _, ok := xlaPluginOf("go:ops_sequential"); ok {
		t.Error("go:ops_sequential taken for an XLA configuration")
	}
}

func TestExactFloat32Env(t *testing.T) {
	lookup := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}
	cases := []struct {
		name, config string
		env          map[string]string
		want         map[string]string
	}{
		{"nothing set", "xla:cuda", nil, map[string]string{EnvTF32Override: "0", EnvXLAFlags: "--xla_gpu_enable_triton_gemm=false"}},
		{"flags kept", "xla:cuda", map[string]string{EnvXLAFlags: "--xla_gpu_cuda_data_dir=/usr/local/cuda"},
			map[string]string{EnvTF32Override: "0", EnvXLAFlags: "--xla_gpu_cuda_data_dir=/usr/local/cuda --xla_gpu_enable_triton_gemm=false"}},
		{"user chose both", "xla:cuda", map[string]string{EnvTF32Override: "1", EnvXLAFlags: "--xla_gpu_enable_triton_gemm=true"}, nil},
		{"override set to empty still counts as chosen", "xla:cuda", map[string]string{EnvTF32Override: ""},
			map[string]string{EnvXLAFlags: "--xla_gpu_enable_triton_gemm=false"}},
		{"tf32 asked", "xla:cuda,tf32", nil, nil},
		{"tf32 among options", "xla:/p/xla_cuda_plugin.so,shared_buffers,tf32", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := exactFloat32Env(c.config, lookup(c.env))
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Fatalf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestCUDADataDirEnv(t *testing.T) {
	site := "/venv/lib/python3.12/site-packages"
	plugin := site + "/jax_plugins/xla_cuda13/xla_cuda_plugin.so"
	files := func(paths ...string) func(string) bool {
		return func(p string) bool {
			for _, q := range paths {
				if p == q {
					return true
				}
			}
			return false
		}
	}
	env := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}
	cases := []struct {
		name   string
		flags  string
		env    map[string]string
		exists func(string) bool
		want   map[string]string
	}{
		{"flag already set", "--xla_gpu_cuda_data_dir=/opt/cuda", nil, files(), nil},
		{"system toolkit", "--xla_gpu_enable_triton_gemm=false", nil, files("/usr/local/cuda/" + libdevice),
			map[string]string{EnvXLAFlags: "--xla_gpu_enable_triton_gemm=false --xla_gpu_cuda_data_dir=/usr/local/cuda"}},
		{"pip package beside the plugin wins over /usr/local/cuda", "", nil,
			files(site+"/nvidia/cu13/"+libdevice, "/usr/local/cuda/"+libdevice),
			map[string]string{EnvXLAFlags: "--xla_gpu_cuda_data_dir=" + site + "/nvidia/cu13"}},
		{"CUDA_HOME first", "", map[string]string{"CUDA_HOME": "/opt/cuda-13"},
			files("/opt/cuda-13/"+libdevice, "/usr/local/cuda/"+libdevice),
			map[string]string{EnvXLAFlags: "--xla_gpu_cuda_data_dir=/opt/cuda-13"}},
		{"nothing found: turn go-xla's guess off", "", nil, files(), map[string]string{EnvCUDAChecks: "0"}},
		{"nothing found, user chose the checks", "", map[string]string{EnvCUDAChecks: "1"}, files(), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cudaDataDirEnv(plugin, c.flags, env(c.env), c.exists)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Fatalf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
