// Package imagetest builds the container image with scripts/image.sh
// (buildah, from the Dockerfile) and checks what is in it. It has only
// tests; see DESIGN.md.
package imagetest
