package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPINFileFlag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []string
		want    pinFileFlag
		wantErr string
	}{
		{"two keys", []string{"10000001=a.pin", "10000002=/x/b.pin"}, pinFileFlag{10000001: "a.pin", 10000002: "/x/b.pin"}, ""},
		{"file with =", []string{"7=a=b"}, pinFileFlag{7: "a=b"}, ""},
		{"no =", []string{"a.pin"}, nil, "want SERIAL=FILE"},
		{"empty file", []string{"7="}, nil, "want SERIAL=FILE"},
		{"not a serial", []string{"abc=a.pin"}, nil, "not a YubiKey serial"},
		{"zero", []string{"0=a.pin"}, nil, "not a YubiKey serial"},
		{"too big", []string{"4294967296=a.pin"}, nil, "not a YubiKey serial"},
		{"twice", []string{"7=a", "7=b"}, nil, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pinFileFlag{}
			var err error
			for _, v := range tc.in {
				if err = p.Set(v); err != nil {
					break
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(p, tc.want) {
				t.Errorf("got %v, %v; want %v", p, err, tc.want)
			}
		})
	}
}

func TestReadPINFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		path     string
		want     string
		wantErr  error
		wantText string
		wantWarn bool
	}{
		{"newline trimmed", write("a", "123456\n", 0o600), "123456", nil, "", false},
		{"crlf trimmed", write("b", "123456\r\n", 0o600), "123456", nil, "", false},
		{"no newline", write("c", "abcdef", 0o600), "abcdef", nil, "", false},
		{"world readable warns", write("d", "123456\n", 0o644), "123456", nil, "", true},
		{"empty", write("e", "\n", 0o600), "", nil, "on one line", false},
		{"two lines", write("f", "1\n2\n", 0o600), "", nil, "on one line", false},
		{"missing", filepath.Join(dir, "none"), "", os.ErrNotExist, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warn bytes.Buffer
			got, err := readPINFile(tc.path, &warn)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.wantText != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantText) {
					t.Errorf("err = %v, want %q", err, tc.wantText)
				}
			case err != nil || got != tc.want:
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
			if (warn.Len() > 0) != tc.wantWarn {
				t.Errorf("warning %q, want one: %v", warn.String(), tc.wantWarn)
			}
			if err != nil && strings.Contains(err.Error(), "123456") {
				t.Error("error quotes the PIN")
			}
		})
	}
}

func TestReadLineLeavesTheRest(t *testing.T) {
	r := strings.NewReader("first\r\nsecond\nlast")
	for _, want := range []string{"first", "second", "last"} {
		got, err := readLine(r)
		if err != nil || got != want {
			t.Fatalf("readLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readLine(r); err == nil {
		t.Error("readLine at EOF returned no error")
	}
}

func TestPINPrompt(t *testing.T) {
	for _, tc := range []struct {
		retries int
		want    string
	}{
		{3, "PIN for Alice (serial 7), 3 attempts left: "},
		{1, "PIN for Alice (serial 7), 1 attempt left: "},
		{-1, "PIN for Alice (serial 7): "},
	} {
		if got := pinPrompt("Alice", 7, tc.retries); got != tc.want {
			t.Errorf("pinPrompt(%d) = %q, want %q", tc.retries, got, tc.want)
		}
	}
}

func TestParseAnyOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantPos []string
		wantX   bool
	}{
		{"flag first", []string{"-x", "a"}, []string{"a"}, true},
		{"flag after", []string{"a", "--x", "b"}, []string{"a", "b"}, true},
		{"double dash", []string{"a", "--", "--x"}, []string{"a", "--x"}, false},
		{"none", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			x := fs.Bool("x", false, "")
			pos, err := parseAnyOrder(fs, tc.args)
			if err != nil || !reflect.DeepEqual(pos, tc.wantPos) || *x != tc.wantX {
				t.Errorf("pos %q x %v err %v; want %q %v", pos, *x, err, tc.wantPos, tc.wantX)
			}
		})
	}
}

// FuzzPINFileFlag: parsing --pin-file never panics and a parsed value
// names a non-zero serial and a non-empty file.
func FuzzPINFileFlag(f *testing.F) {
	seeds, err := os.ReadFile("testdata/pin-file-flags.txt")
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	for _, s := range strings.Split(string(seeds), "\n") {
		if s != "" {
			f.Add(s)
			n++
		}
	}
	if n == 0 {
		f.Fatal("no seeds in testdata/pin-file-flags.txt")
	}
	f.Fuzz(func(t *testing.T, v string) {
		p := pinFileFlag{}
		if err := p.Set(v); err != nil {
			return
		}
		for s, file := range p {
			if s == 0 || file == "" {
				t.Errorf("Set(%q) = %v", v, p)
			}
		}
		var l serialList
		_ = l.Set(v)
	})
}
