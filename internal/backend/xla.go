//go:build cgo && !noxla && linux && amd64

package backend

import "github.com/gomlx/gomlx/backends/xla"

// The XLA backend is compiled in; never let it download a plugin on its own.
func init() {
	xla.EnableAutoInstall(false)
	xlaCompiledIn = true
}
