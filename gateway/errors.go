package gateway

import "github.com/carriermq/carrier/protocol"

// httpStatus is the HTTP status that goes with a protocol code (the catalogue's).
func httpStatus(code string) int { return protocol.HTTPStatus(code) }
