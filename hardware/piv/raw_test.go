package piv

import (
	"bufio"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestTLVs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[byte][]byte
		wantErr bool
	}{
		{"PIN metadata", "010180050101060203 02", map[byte][]byte{1: {0x80}, 5: {1}, 6: {3, 2}}, false},
		{"long form length", "5381 80" + strings.Repeat("aa", 0x80), map[byte][]byte{0x53: []byte(strings.Repeat("\xaa", 0x80))}, false},
		{"empty value", "8000", map[byte][]byte{0x80: {}}, false},
		{"empty input", "", map[byte][]byte{}, false},
		{"truncated header", "05", nil, true},
		{"value too short", "0502 01", nil, true},
		{"truncated long length", "0581", nil, true},
		{"unsupported length", "0582 0001 00", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tlvs(mustHex(t, tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("tlvs error = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tlvs = %x, want %x", got, tc.want)
			}
		})
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seeds reads testdata/tlv-seeds.txt.
func seeds(t testing.TB) [][]byte {
	f, err := os.Open("testdata/tlv-seeds.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, mustHex(t, line))
	}
	if len(out) == 0 {
		t.Fatal("no seeds in testdata/tlv-seeds.txt")
	}
	return out
}

func FuzzTLVs(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := tlvs(b)
		if err != nil {
			return
		}
		total := 0
		for _, v := range m {
			total += len(v) + 2
		}
		if total > len(b)+2*len(m) { // values are slices of the input
			t.Fatalf("values longer than the input: %d > %d", total, len(b))
		}
	})
}

func TestFormFactorName(t *testing.T) {
	tests := []struct {
		in   byte
		want string
	}{
		{0x01, "USB-A keychain"}, {0x02, "USB-A nano"}, {0x03, "USB-C keychain"}, {0x04, "USB-C nano"},
		{0x05, "USB-C/Lightning keychain"}, {0x81, "USB-A keychain FIPS"}, {0x00, ""}, {0x06, ""}, {0x86, ""},
	}
	for _, tc := range tests {
		if got := formFactorNameByte(tc.in); got != tc.want {
			t.Errorf("formFactorNameByte(%#x) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
