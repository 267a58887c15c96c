// Package tlsfile reads TLS certificates, keys and CA bundles from files and
// reads them again when the files change, so that a certificate rotated on
// disk (cert-manager renewing a Secret, an operator replacing a file) is used
// for new connections without a restart.
//
// A change is noticed on use: at most once per CheckInterval a getter reads
// the files and compares a digest of their contents with the one loaded
// (they are a few kilobytes; modification times are too coarse to tell two
// writes a few milliseconds apart, and reading follows symlinks, so the
// atomic symlink swap of a Kubernetes Secret volume counts as a change). A
// file set that fails to load — a rotation caught half-written, a key that
// does not match its certificate — is logged and the previous material stays
// in use until the files load again.
package tlsfile

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CheckInterval is how often, at most, the files are looked at again.
const CheckInterval = time.Second

// watched holds a value loaded from files, loaded again when they change.
// Safe for concurrent use.
type watched[T any] struct {
	what  string
	files []string
	load  func() (T, error)
	log   *slog.Logger

	mu      sync.Mutex
	val     T
	stamp   string    // digest of the files' contents the value was loaded from
	checked time.Time // last look at the files
	failed  string    // stamp whose load failed (logged once)
}

func newWatched[T any](what string, files []string, load func() (T, error), log *slog.Logger) (*watched[T], error) {
	if log == nil {
		log = slog.Default()
	}
	w := &watched[T]{what: what, files: files, load: load, log: log}
	st, err := stampOf(files)
	if err != nil {
		return nil, err
	}
	if w.val, err = load(); err != nil {
		return nil, err
	}
	w.stamp, w.checked = st, time.Now()
	return w, nil
}

// get returns the current value, loading the files again when they changed.
func (w *watched[T]) get() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now := time.Now(); now.Sub(w.checked) >= CheckInterval {
		w.checked = now
		w.refresh()
	}
	return w.val
}

// refresh loads the files when their stamp moved. w.mu held.
func (w *watched[T]) refresh() {
	st, err := stampOf(w.files)
	if err != nil || st == w.stamp || st == w.failed {
		return // a file missing for a moment (being replaced): next look
	}
	v, err := w.load()
	if err != nil {
		w.failed = st
		w.log.Warn("changed TLS files do not load: still using the previous ones", "what", w.what, "files", w.files, "err", err)
		return
	}
	w.val, w.stamp, w.failed = v, st, ""
	w.log.Info("TLS files reloaded", "what", w.what, "files", w.files)
}

// stampOf is a digest of the files' contents.
func stampOf(files []string) (string, error) {
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", f, err)
		}
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	return string(h.Sum(nil)), nil
}

// KeyPair is a certificate chain and its private key (PEM files).
type KeyPair struct{ w *watched[*tls.Certificate] }

// LoadKeyPair reads certFile and keyFile; it fails when they do not load.
// log gets the reload messages (nil: slog.Default()).
func LoadKeyPair(certFile, keyFile string, log *slog.Logger) (*KeyPair, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("a certificate needs both files: the certificate and its key")
	}
	load := func() (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load certificate %s with key %s: %w", certFile, keyFile, err)
		}
		return &c, nil
	}
	w, err := newWatched("certificate", []string{certFile, keyFile}, load, log)
	if err != nil {
		return nil, err
	}
	return &KeyPair{w: w}, nil
}

// Certificate returns the current certificate.
func (k *KeyPair) Certificate() *tls.Certificate { return k.w.get() }

// GetCertificate is for tls.Config.GetCertificate.
func (k *KeyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.Certificate(), nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate.
func (k *KeyPair) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return k.Certificate(), nil
}

// Pool is a bundle of CA certificates (a PEM file with one or more).
type Pool struct{ w *watched[*x509.CertPool] }

// LoadPool reads the CA bundle in file; it fails when the file holds no
// certificate.
func LoadPool(file string, log *slog.Logger) (*Pool, error) {
	w, err := newWatched("CA bundle", []string{file}, func() (*x509.CertPool, error) { return ReadPool(file) }, log)
	if err != nil {
		return nil, err
	}
	return &Pool{w: w}, nil
}

// CertPool returns the current bundle.
func (p *Pool) CertPool() *x509.CertPool { return p.w.get() }

// ReadPool reads the CA certificates of a PEM file once.
func ReadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", file)
	}
	return pool, nil
}
