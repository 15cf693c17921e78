//go:build cgo && !noxla && linux && amd64

package backend

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestXLANeverAutoInstalls starts GoMLX's XLA backend directly, bypassing our own plugin search,
// with an empty home: GoMLX must not try to download a plugin into it.
func TestXLANeverAutoInstalls(t *testing.T) {
	require.True(t, xlaCompiledIn)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(PluginPathEnv, t.TempDir())
	b, err := start("xla:definitely_not_installed")
	require.Error(t, err)
	require.Nil(t, b)
	require.NotContains(t, err.Error(), "auto-install")
	require.NoDirExists(t, filepath.Join(home, ".local", "lib", "go-xla"))
}
