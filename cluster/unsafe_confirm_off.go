//go:build !carrier_unsafe_early_confirm

package cluster

// unsafeEarlyConfirm is false in every real build: a publish is confirmed
// only once its entry is committed by a majority and applied here.
const unsafeEarlyConfirm = false
