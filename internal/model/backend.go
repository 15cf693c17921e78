package model

import (
	"github.com/gomlx/gomlx/backends"

	"github.com/sectorflow/sdk/internal/backend"
)

// defaultBackend returns the process default backend (internal/backend's choice: GOMLX_BACKEND,
// else XLA when a PJRT plugin is installed, else the pure-Go backend in its safe configuration).
func defaultBackend() (backends.Backend, error) {
	return backend.Default()
}
