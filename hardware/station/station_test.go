package station

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tool runs a PC/SC client program against the station and returns its
// standard output; a non-zero exit fails the test.
func tool(t testing.TB, s *Station, name string, args ...string) string {
	t.Helper()
	out, err := toolErr(s, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

func toolErr(s *Station, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(cmd.Environ(), s.Env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s%s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStationThroughRealPCSCD(t *testing.T) {
	const k1, k2 = 31000001, 31000002
	s := ForTest(t, KeySpec{Serial: k1}, KeySpec{Serial: k2})

	t.Run("ykman list shows both keys", func(t *testing.T) {
		out := tool(t, s, "ykman", "list")
		for _, sn := range []uint32{k1, k2} {
			if !strings.Contains(out, fmt.Sprintf("Serial: %d", sn)) {
				t.Errorf("ykman list does not show serial %d:\n%s", sn, out)
			}
		}
	})
	t.Run("ykman piv info", func(t *testing.T) {
		for _, sn := range []uint32{k1, k2} {
			out := tool(t, s, "ykman", "--device", fmt.Sprint(sn), "piv", "info")
			if !strings.Contains(out, "PIV version: 5.4.3") || !strings.Contains(out, "PIN tries remaining: 3/3") {
				t.Errorf("ykman piv info of %d:\n%s", sn, out)
			}
		}
	})
	t.Run("yubico-piv-tool status", func(t *testing.T) {
		for _, sn := range []uint32{k1, k2} {
			out := tool(t, s, "yubico-piv-tool", "-r", s.Reader(sn), "-a", "status")
			if !strings.Contains(out, fmt.Sprintf("Serial Number:\t%d", sn)) {
				t.Errorf("yubico-piv-tool -r %q -a status:\n%s", s.Reader(sn), out)
			}
		}
	})
	t.Run("pull and insert", func(t *testing.T) {
		for _, sn := range []uint32{k1, k2} {
			other := uint32(k1 + k2 - sn)
			if err := s.Pull(sn); err != nil {
				t.Fatal(err)
			}
			if err := s.WaitForKeys(waitCtx(t), other); err != nil {
				t.Fatalf("after pulling %d: %v", sn, err)
			}
			// (ykman --device waits ~10 s for a missing key; yubico-piv-tool fails at once.)
			if _, err := toolErr(s, "yubico-piv-tool", "-r", s.Reader(sn), "-a", "status"); err == nil {
				t.Errorf("yubico-piv-tool reached pulled key %d", sn)
			}
			if err := s.Insert(sn); err != nil {
				t.Fatal(err)
			}
			if err := s.WaitForKeys(waitCtx(t), k1, k2); err != nil {
				t.Fatalf("after inserting %d: %v", sn, err)
			}
		}
	})
	t.Run("pcscd restart is survived", func(t *testing.T) {
		if err := s.StopPCSCD(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(s.Socket()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pcscd socket still there after StopPCSCD: %v", err)
		}
		if err := s.RestartPCSCD(waitCtx(t)); err != nil {
			t.Fatal(err)
		}
		tool(t, s, "ykman", "--device", fmt.Sprint(k2), "piv", "info")
	})
	t.Run("a pulled key stays out across a pcscd restart", func(t *testing.T) {
		if err := s.Pull(k1); err != nil {
			t.Fatal(err)
		}
		if err := s.RestartPCSCD(waitCtx(t)); err != nil {
			t.Fatal(err)
		}
		if err := s.WaitForKeys(waitCtx(t), k2); err != nil {
			t.Fatal(err)
		}
		if err := s.Insert(k1); err != nil {
			t.Fatal(err)
		}
		if err := s.WaitForKeys(waitCtx(t), k1, k2); err != nil {
			t.Fatal(err)
		}
	})
}

func TestKeyStateSurvivesRestart(t *testing.T) {
	const sn = 32000001
	state := filepath.Join(t.TempDir(), "key.json")
	s := ForTest(t, KeySpec{Serial: sn, StateFile: state})
	// The empty second reader of the vpcd entry also counts for ykman, so
	// even a single key needs --device.
	dev := fmt.Sprint(sn)
	if out := tool(t, s, "ykman", "--device", dev, "piv", "info"); !strings.Contains(out, "Using default PIN") {
		t.Fatalf("fresh key does not use the default PIN:\n%s", out)
	}
	tool(t, s, "ykman", "--device", dev, "piv", "access", "change-pin", "--pin", "123456", "--new-pin", "24681357")
	if err := s.Close(); err != nil { // each virtual-yubikey must exit 0 on SIGTERM
		t.Fatal(err)
	}

	s = ForTest(t, KeySpec{Serial: sn, StateFile: state})
	out := tool(t, s, "ykman", "--device", dev, "piv", "info")
	if strings.Contains(out, "Using default PIN") {
		t.Errorf("restarted key forgot the PIN change:\n%s", out)
	}
	if _, err := toolErr(s, "ykman", "--device", dev, "piv", "access", "change-pin", "--pin", "24681357", "--new-pin", "123456"); err != nil {
		t.Errorf("the PIN set before the restart does not work: %v", err)
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{name: "no dir", o: Options{Keys: []KeySpec{{Serial: 1}}}},
		{name: "no keys", o: Options{Dir: t.TempDir()}},
		{name: "too many keys", o: Options{Dir: t.TempDir(), Keys: []KeySpec{{Serial: 1}, {Serial: 2}, {Serial: 3}, {Serial: 4}, {Serial: 5}}}},
		{name: "zero serial", o: Options{Dir: t.TempDir(), Keys: []KeySpec{{Serial: 0}}}},
		{name: "repeated serial", o: Options{Dir: t.TempDir(), Keys: []KeySpec{{Serial: 7}, {Serial: 7}}}},
		{name: "port out of range", o: Options{Dir: t.TempDir(), Keys: []KeySpec{{Serial: 1}}, BasePort: 65535}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(context.Background(), tt.o)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("bad options reported as ErrUnavailable: %v", err)
			}
		})
	}
}

// BenchmarkYkmanPivInfo measures one `ykman piv info` (a new ykman process,
// through the private pcscd, to the virtual key) end to end.
func BenchmarkYkmanPivInfo(b *testing.B) {
	s := ForTest(b, KeySpec{Serial: 33000001})
	for b.Loop() {
		tool(b, s, "ykman", "--device", "33000001", "piv", "info")
	}
}
