package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"
)

// TestBundleREADME pins every embedded certificate file to the SHA-256
// recorded in yubico/README.md, and every file listed there to exist.
func TestBundleREADME(t *testing.T) {
	readme, err := os.ReadFile("yubico/README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{} // file → file SHA-256
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 8 || !strings.HasSuffix(strings.TrimSpace(cells[1]), ".pem") {
			continue
		}
		listed[strings.TrimSpace(cells[1])] = strings.TrimSpace(cells[5])
	}
	files, err := fs.Glob(bundle, "yubico/*.pem")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded certificates: %v", err)
	}
	for _, f := range files {
		b, err := bundle.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		name := path.Base(f)
		if want, ok := listed[name]; !ok {
			t.Errorf("%s is embedded but not listed in yubico/README.md", name)
		} else if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s has SHA-256 %s, README records %s", name, got, want)
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("yubico/README.md lists %s, which is not embedded", name)
	}
}
