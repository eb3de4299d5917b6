package piv

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"breakglass/hardware"
)

// TestLocateTalksToTheCardOnlyWhenItMayHaveChanged: once a key's serial was
// read in a reader, locating it again does not talk to the card while
// pcscd's event counter for that reader is unchanged; a moved counter
// (the card was swapped) makes it probe again and find the key elsewhere.
func TestLocateTalksToTheCardOnlyWhenItMayHaveChanged(t *testing.T) {
	f := &fakeReaders{order: []string{"A", "B"}, counters: map[string]uint32{"A": 1, "B": 1}, serials: map[string]uint32{"A": 7, "B": 8}}
	s := NewStation()
	f.install(s)
	ctx := context.Background()
	locate := func(serial uint32) (string, error) {
		t.Helper()
		r, release, err := s.locate(ctx, serial)
		if err == nil {
			release()
		}
		return r, err
	}
	steps := []struct {
		name       string
		change     func()
		serial     uint32
		wantReader string
		wantErr    error
		wantProbed []string
	}{
		{"first sight: every reader probed until found", nil, 8, "B", nil, []string{"A", "B"}},
		{"same card, counter unchanged: no probe", nil, 8, "B", nil, nil},
		{"the other key was remembered on the way", nil, 7, "A", nil, nil},
		{"card in B swapped for key 9: counter moved, probed", func() { f.serials["B"] = 9; f.counters["B"] = 3 }, 8, "", hardware.ErrNotFound, []string{"B", "A", "B"}},
		{"key 9 now found without probing", nil, 9, "B", nil, nil},
	}
	for _, st := range steps {
		if st.change != nil {
			st.change()
		}
		f.probed = nil
		r, err := locate(st.serial)
		if !errors.Is(err, st.wantErr) || r != st.wantReader {
			t.Fatalf("%s: locate(%d) = %q, %v; want %q, %v", st.name, st.serial, r, err, st.wantReader, st.wantErr)
		}
		if !reflect.DeepEqual(f.probed, st.wantProbed) {
			t.Errorf("%s: probed %v, want %v", st.name, f.probed, st.wantProbed)
		}
	}
}
