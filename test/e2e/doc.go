// Package e2e holds Carrier's end-to-end tests: they build the carrier
// binary once, run it as real processes on loopback ports with their own
// data directories, kill -9 and restart them, and drive them with the Go
// client and the CLI. See DESIGN.md.
package e2e
