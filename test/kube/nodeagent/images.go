package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// image is an image's root filesystem, mounted, and the configuration the
// container defaults come from.
type image struct {
	name   string
	id     string
	root   string // buildah mount of a working container of the image
	config imageConfig
}

// imageConfig is the part of the OCI image configuration a container uses.
type imageConfig struct {
	Entrypoint []string `json:"Entrypoint"`
	Cmd        []string `json:"Cmd"`
	Env        []string `json:"Env"`
	User       string   `json:"User"`
	WorkingDir string   `json:"WorkingDir"`
}

// images mounts each image once, from buildah's local storage: a working
// container of the image ("buildah from"), mounted ("buildah mount"). Each
// container of the image gets an overlay of its own on that root, so the
// shared mount is only read. Nothing is pulled: an image that is not in
// local storage is an error, as with imagePullPolicy Never.
type images struct {
	prefix string // of the working containers' names, per node

	mu     sync.Mutex
	byName map[string]*image
}

func newImages(node string) *images {
	return &images{prefix: "carrier-nodeagent-" + node + "-", byName: map[string]*image{}}
}

// get returns the mounted image, mounting it the first time.
func (s *images) get(ctx context.Context, name string) (*image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if img, ok := s.byName[name]; ok {
		return img, nil
	}
	img, err := s.mount(ctx, name)
	if err != nil {
		return nil, err
	}
	s.byName[name] = img
	return img, nil
}

func (s *images) mount(ctx context.Context, name string) (*image, error) {
	var inspect struct {
		FromImageID string `json:"FromImageID"`
		OCIv1       struct {
			Config imageConfig `json:"config"`
		} `json:"OCIv1"`
	}
	out, err := buildah(ctx, "inspect", "--type", "image", name)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(out, &inspect); err != nil {
		return nil, fmt.Errorf("image %s: decoding buildah inspect: %w", name, err)
	}
	sum := sha256.Sum256([]byte(name))
	ctr := s.prefix + hex.EncodeToString(sum[:6])
	// A container of that name left by an agent that was killed: start afresh.
	_, _ = buildah(ctx, "rm", ctr)
	if _, err := buildah(ctx, "from", "--pull=never", "--quiet", "--name", ctr, name); err != nil {
		return nil, err
	}
	root, err := buildah(ctx, "mount", ctr)
	if err != nil {
		_, _ = buildah(ctx, "rm", ctr)
		return nil, err
	}
	slog.Info("image mounted", "image", name, "root", strings.TrimSpace(string(root)))
	return &image{name: name, id: inspect.FromImageID, root: strings.TrimSpace(string(root)), config: inspect.OCIv1.Config}, nil
}

// release unmounts every image and removes its working container.
func (s *images) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for name := range s.byName {
		sum := sha256.Sum256([]byte(name))
		if _, err := buildah(ctx, "rm", s.prefix+hex.EncodeToString(sum[:6])); err != nil {
			slog.Warn("removing an image's working container", "image", name, "err", err)
		}
		delete(s.byName, name)
	}
}

func buildah(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "buildah", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("buildah %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
