package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers "go"
)

// EnvVar is the environment variable GoMLX and this package read the configuration from.
const EnvVar = "GOMLX_BACKEND"

// PluginPathEnv lists the directories (":"-separated) holding PJRT plugins; when set, only
// they are searched, as go-xla does.
const PluginPathEnv = "PJRT_PLUGIN_LIBRARY_PATH"

// SafeGo is the pure-Go backend configuration used by default: sequential op scheduling, which
// cannot deadlock and prints nothing.
const SafeGo = "go:ops_sequential"

// ErrUnavailable is wrapped by the error for an explicitly requested backend that cannot start.
var ErrUnavailable = errors.New("backend unavailable")

// xlaCompiledIn is set by xla.go when the binary includes GoMLX's XLA backend.
var xlaCompiledIn bool

// startXLA, set by xla.go, starts an XLA configuration with the client options of its plugin
// (gpuClientOptions for a GPU plugin).
var startXLA func(config string) (backends.Backend, error)

// installHint says how to get a PJRT plugin without this program downloading anything.
const installHint = "install a PJRT plugin as pjrt_c_api_<name>_plugin.so in ~/.local/lib/go-xla or " +
	"/usr/local/lib/go-xla, or set " + PluginPathEnv + " to the directory holding it (for NVIDIA GPUs, JAX's " +
	"jax-cuda13-plugin package ships one; see the README's GPU section); or use " + EnvVar + "=go for the pure-Go backend"

// Options configures New. The zero value (or nil) means: GOMLX_BACKEND, else automatic.
type Options struct {
	// Config is an explicit backend configuration ("go", "go:ops_sequential", "xla:cpu",
	// "xla:cuda"); it takes precedence over GOMLX_BACKEND.
	Config string
	// Logger receives the info line naming the backend and the reason (nil: discard).
	Logger *slog.Logger
}

// Choice is a decision: the GoMLX configuration to start and why.
type Choice struct {
	// Config is the configuration passed to GoMLX, e.g. "go:ops_sequential" or "xla:cuda".
	Config string
	// Reason explains the choice in a sentence, for the log.
	Reason string
	// Explicit is true when the user asked for this backend (option or environment).
	Explicit bool
}

// Plugin is an installed PJRT plugin.
type Plugin struct {
	// Name is the plugin name ("cpu", "cuda"), as in xla:<name>.
	Name string
	// Path is the shared library's path.
	Path string
}

// environment is what selection depends on, injectable for tests.
type environment struct {
	lookupEnv func(string) (string, bool)
	hasXLA    bool
	plugins   func() []Plugin
}

func realEnvironment() environment {
	return environment{lookupEnv: os.LookupEnv, hasXLA: xlaCompiledIn, plugins: func() []Plugin { return FindPlugins(SearchPaths()) }}
}

// Choose decides which backend New would start, without starting anything.
func Choose(opts *Options) (Choice, error) {
	return choose(opts, realEnvironment())
}

func choose(opts *Options, env environment) (Choice, error) {
	config, source := "", ""
	if opts != nil && opts.Config != "" {
		config, source = opts.Config, "requested by the caller"
	} else if v, ok := env.lookupEnv(EnvVar); ok && strings.TrimSpace(v) != "" {
		config, source = strings.TrimSpace(v), "set by "+EnvVar
	}
	if config != "" {
		return chooseExplicit(config, source, env)
	}
	if !env.hasXLA {
		return Choice{Config: SafeGo, Reason: "pure-Go backend: this binary was built without the XLA backend (it needs cgo on linux/amd64)"}, nil
	}
	plugins := env.plugins()
	if len(plugins) == 0 {
		return Choice{Config: SafeGo, Reason: "pure-Go backend: no XLA PJRT plugin is installed (" + installHint + ")"}, nil
	}
	p := preferred(plugins)
	return Choice{Config: "xla:" + p.Name, Reason: fmt.Sprintf("XLA backend: PJRT plugin %q found at %s", p.Name, p.Path)}, nil
}

// preferred picks cuda over cpu over anything else, as go-xla's DefaultPlugins order does.
func preferred(plugins []Plugin) Plugin {
	for _, want := range []string{"cuda", "cpu"} {
		for _, p := range plugins {
			if p.Name == want {
				return p
			}
		}
	}
	return plugins[0]
}

func chooseExplicit(config, source string, env environment) (Choice, error) {
	name, rest, _ := strings.Cut(config, ":")
	switch name {
	case "go", "simplego":
		if rest == "" {
			return Choice{Config: SafeGo, Explicit: true, Reason: fmt.Sprintf("pure-Go backend %s (%q runs as %q: the default parallel scheduler can deadlock on small machines)", source, config, SafeGo)}, nil
		}
		return Choice{Config: "go:" + rest, Explicit: true, Reason: "pure-Go backend " + source}, nil
	case "xla", "stablehlo", "hlo", "shlo":
		if !env.hasXLA {
			return Choice{}, fmt.Errorf("backend %q %s: this binary was built without the XLA backend; rebuild with cgo enabled on linux/amd64 (CGO_ENABLED=1, a C compiler, no -tags noxla), or use %s=go: %w", config, source, EnvVar, ErrUnavailable)
		}
		plugin, _, _ := strings.Cut(rest, ",")
		if filepath.IsAbs(plugin) {
			if _, err := os.Stat(plugin); err != nil {
				return Choice{}, fmt.Errorf("backend %q %s: PJRT plugin %s: %v; %s: %w", config, source, plugin, err, installHint, ErrUnavailable)
			}
			return Choice{Config: config, Explicit: true, Reason: "XLA backend " + source}, nil
		}
		plugins := env.plugins()
		if plugin == "" {
			if len(plugins) == 0 {
				return Choice{}, fmt.Errorf("backend %q %s: no PJRT plugin is installed; %s: %w", config, source, installHint, ErrUnavailable)
			}
			p := preferred(plugins)
			return Choice{Config: "xla:" + p.Name + strings.TrimPrefix(rest, plugin), Explicit: true, Reason: fmt.Sprintf("XLA backend %s, PJRT plugin %q found at %s", source, p.Name, p.Path)}, nil
		}
		for _, p := range plugins {
			if p.Name == plugin {
				return Choice{Config: config, Explicit: true, Reason: fmt.Sprintf("XLA backend %s, PJRT plugin %q found at %s", source, p.Name, p.Path)}, nil
			}
		}
		hint := installHint
		if plugin == "cuda" {
			hint = "the CUDA plugin needs an NVIDIA GPU and driver; " + installHint
		}
		return Choice{}, fmt.Errorf("backend %q %s: PJRT plugin %q is not installed (found %s); %s: %w", config, source, plugin, pluginNames(plugins), hint, ErrUnavailable)
	}
	known := "go"
	if env.hasXLA {
		known = "go, xla"
	}
	return Choice{}, fmt.Errorf("backend %q %s: unknown backend %q, want one of %s: %w", config, source, name, known, ErrUnavailable)
}

func pluginNames(plugins []Plugin) string {
	if len(plugins) == 0 {
		return "none"
	}
	names := make([]string, len(plugins))
	for i, p := range plugins {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// New chooses a backend (see the package doc) and starts it. GoMLX panics are returned as
// errors. When the automatic choice is XLA and it fails to start, New falls back to the pure-Go
// backend with a warning; an explicit request never falls back.
func New(opts *Options) (backends.Backend, Choice, error) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts != nil && opts.Logger != nil {
		logger = opts.Logger
	}
	choice, err := Choose(opts)
	if err != nil {
		return nil, Choice{}, err
	}
	b, err := start(choice.Config)
	if err != nil {
		if choice.Explicit {
			return nil, Choice{}, fmt.Errorf("start backend %q: %v; %s: %w", choice.Config, err, installHint, ErrUnavailable)
		}
		logger.Warn("XLA backend failed to start; using the pure-Go backend", "config", choice.Config, "err", err)
		choice = Choice{Config: SafeGo, Reason: fmt.Sprintf("pure-Go backend: %s failed to start (%v)", choice.Config, err)}
		if b, err = start(SafeGo); err != nil {
			return nil, Choice{}, fmt.Errorf("start backend %q: %w", SafeGo, err)
		}
	}
	logger.LogAttrs(context.Background(), slog.LevelInfo, "compute backend selected",
		slog.String("backend", choice.Config), slog.String("reason", choice.Reason))
	return b, choice, nil
}

// start creates a GoMLX backend, turning its panics into errors.
func start(config string) (b backends.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%v", r)
		}
	}()
	if _, ok := xlaPluginOf(config); ok && startXLA != nil {
		return startXLA(config)
	}
	return backends.NewWithConfig(config)
}

var (
	defaultOnce    sync.Once
	defaultBackend backends.Backend
	defaultChoice  Choice
	defaultErr     error
)

// Default returns the process-wide backend, created on first use with GOMLX_BACKEND or the
// automatic choice and logged once to slog.Default(). Later calls return the same backend (or
// the same error).
func Default() (backends.Backend, error) {
	defaultOnce.Do(func() {
		defaultBackend, defaultChoice, defaultErr = New(&Options{Logger: slog.Default()})
	})
	return defaultBackend, defaultErr
}

// DefaultChoice returns the choice Default made (zero before Default is called or on error).
func DefaultChoice() Choice {
	return defaultChoice
}

// SearchPaths returns the directories searched for PJRT plugins, in go-xla's order:
// PJRT_PLUGIN_LIBRARY_PATH when set; else ~/.local/lib/go-xla, /usr/local/lib/go-xla (and their
// nvidia subdirectories and the older gomlx/pjrt ones), LD_LIBRARY_PATH and /etc/ld.so.conf.
func SearchPaths() []string {
	if v, ok := os.LookupEnv(PluginPathEnv); ok {
		var out []string
		for _, p := range strings.Split(v, ":") {
			if p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	var paths []string
	if home, err := os.UserHomeDir(); err == nil {
		local := filepath.Join(home, ".local", "lib", "go-xla")
		paths = append(paths, local, filepath.Join(local, "nvidia"), filepath.Join(home, ".local", "lib", "gomlx", "pjrt"))
	}
	paths = append(paths, "/usr/local/lib/go-xla", "/usr/local/lib/go-xla/nvidia", "/usr/local/lib/gomlx/pjrt")
	for _, p := range strings.Split(os.Getenv("LD_LIBRARY_PATH"), ":") {
		if p != "" && filepath.IsAbs(p) {
			paths = append(paths, p)
		}
	}
	return ldConfPaths(paths, "/etc/ld.so.conf", 0)
}

var ldInclude = regexp.MustCompile(`^\s*include\s+(.*)$`)

// ldConfPaths appends the directories listed in an ld.so.conf-style file (following includes).
func ldConfPaths(paths []string, file string, depth int) []string {
	if depth > 8 {
		return paths
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return paths
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := ldInclude.FindStringSubmatch(line); m != nil {
			files, _ := filepath.Glob(strings.TrimSpace(m[1]))
			for _, f := range files {
				paths = ldConfPaths(paths, f, depth+1)
			}
			continue
		}
		paths = append(paths, line)
	}
	return paths
}

var pluginNameRes = []*regexp.Regexp{
	regexp.MustCompile(`^pjrt_c_api_(.+)_plugin\.so$`),
	regexp.MustCompile(`^pjrt[-_]plugin[-_](.+)\.so$`),
}

// FindPlugins lists the PJRT plugins present in dirs (first directory wins for a name), using
// go-xla's file name patterns. It only looks at file names: nothing is loaded or downloaded. A
// CUDA plugin is skipped on a machine without an NVIDIA device, as go-xla does.
func FindPlugins(dirs []string) []Plugin {
	var out []Plugin
	seen := map[string]bool{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, file := range names {
			for _, re := range pluginNameRes {
				m := re.FindStringSubmatch(file)
				if m == nil || seen[m[1]] {
					continue
				}
				path := filepath.Join(dir, file)
				if st, err := os.Stat(path); err != nil || st.IsDir() {
					continue
				}
				if strings.HasPrefix(m[1], "cuda") && !hasNvidiaDevice() {
					continue
				}
				seen[m[1]] = true
				out = append(out, Plugin{Name: m[1], Path: path})
				break
			}
		}
	}
	return out
}

// hasNvidiaDevice reports whether the machine exposes an NVIDIA GPU (/dev/nvidia0, ...).
var hasNvidiaDevice = func() bool {
	if runtime.GOOS != "linux" {
		return false
	}
	m, _ := filepath.Glob("/dev/nvidia[0-9]*")
	return len(m) > 0
}
