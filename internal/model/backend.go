package model

import (
	"sync"

	"github.com/gomlx/gomlx/backends"
)

var (
	defaultOnce sync.Once
	procBackend backends.Backend
	defaultErr  error
)

// defaultBackend returns the process default backend.
// TODO: switch to internal/backend.Default once it lands.
func defaultBackend() (backends.Backend, error) {
	defaultOnce.Do(func() {
		procBackend, defaultErr = backends.NewWithConfig("go:ops_sequential")
	})
	return procBackend, defaultErr
}
