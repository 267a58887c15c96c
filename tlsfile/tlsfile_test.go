package tlsfile_test

import (
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/carriermq/carrier/test/testpki"
	"github.com/carriermq/carrier/tlsfile"
)

func serialOf(t *testing.T, k *tlsfile.KeyPair) string {
	t.Helper()
	c, err := x509.ParseCertificate(k.Certificate().Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

// waitSerial polls until k serves the certificate with serial want.
func waitSerial(t *testing.T, k *tlsfile.KeyPair, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for serialOf(t, k) != want {
		if time.Now().After(deadline) {
			t.Fatalf("certificate serial %s, want %s after the files changed", serialOf(t, k), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loadedPair makes a CA and a certificate of it in dir, and loads it.
func loadedPair(t *testing.T, dir string) (*testpki.CA, testpki.Files, *tlsfile.KeyPair) {
	t.Helper()
	ca, err := testpki.NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ca.Issue(dir, "node", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := tlsfile.LoadKeyPair(f.Cert, f.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ca, f, k
}

func TestKeyPairReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	ca, f1, k := loadedPair(t, dir)
	if got := serialOf(t, k); got != f1.Serial.String() {
		t.Fatalf("serial %s, want %s", got, f1.Serial)
	}
	f2, err := ca.Issue(dir, "node", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	waitSerial(t, k, f2.Serial.String())
}

func TestKeyPairKeepsTheOldOneWhenTheNewDoesNotLoad(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	ca, f1, k := loadedPair(t, dir)
	// A certificate whose key is another one: half a rotation.
	f2, err := ca.Issue(other, "node", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f2.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f1.Cert, b, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(tlsfile.CheckInterval + 100*time.Millisecond) // let a check happen: nothing to poll for, the old one must stay
	if got := serialOf(t, k); got != f1.Serial.String() {
		t.Fatalf("after a mismatched rotation serial %s, want the old %s", got, f1.Serial)
	}
	kb, err := os.ReadFile(f2.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f1.Key, kb, 0o600); err != nil {
		t.Fatal(err)
	}
	waitSerial(t, k, f2.Serial.String())
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsfile.LoadKeyPair(dir+"/missing.crt", dir+"/missing.key", nil); err == nil {
		t.Fatal("missing files: no error")
	}
	if _, err := tlsfile.LoadKeyPair("", "x", nil); err == nil {
		t.Fatal("no certificate file: no error")
	}
	if err := os.WriteFile(dir+"/empty.pem", []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsfile.LoadPool(dir+"/empty.pem", nil); err == nil {
		t.Fatal("a bundle without certificates: no error")
	}
}

func TestPoolReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	ca1, err := testpki.NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := testpki.NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	path, err := ca1.WriteCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tlsfile.LoadPool(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	verifies := func(ca *testpki.CA) bool {
		_, err := ca.Cert.Verify(x509.VerifyOptions{Roots: p.CertPool()})
		return err == nil
	}
	if !verifies(ca1) || verifies(ca2) {
		t.Fatal("the bundle should hold ca1 only")
	}
	if _, err := ca2.WriteCA(dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !verifies(ca2) {
		if time.Now().After(deadline) {
			t.Fatal("the bundle was not reloaded after the file changed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
