//go:build !race

package server

// raceEnabled shortens the load test under the race detector, which slows the engine tenfold.
const raceEnabled = false
