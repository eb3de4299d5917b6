package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

func printKeys(w io.Writer, reports []keyReport) {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if r.Serial == 0 {
			printf(w, "Reader %q\n  error: %s\n", r.Reader, r.Error)
			continue
		}
		printf(w, "YubiKey %d  (reader %q)\n", r.Serial, r.Reader)
		ff := r.FormFactor
		if ff == "" {
			ff = "form factor unknown"
		}
		retries := "unknown (PIN verified in this session)"
		if r.PINRetries != nil {
			retries = fmt.Sprint(*r.PINRetries)
			if *r.PINRetries == 0 {
				retries = "0 (PIN BLOCKED: unblock it with the PUK)"
			}
		}
		printf(w, "  firmware %s, %s, PIN retries left: %s\n", r.Firmware, ff, retries)
		for _, warn := range r.Warnings {
			printf(w, "  warning: %s\n", warn)
		}
		if r.Error != "" {
			printf(w, "  error: %s\n", r.Error)
			continue
		}
		if len(r.Slots) == 0 {
			fmt.Fprintln(w, "  no keys in any slot")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  slot\talgorithm\tPIN\ttouch\tattestation")
		for _, s := range r.Slots {
			v := s.Attestation
			if s.Reason != "" {
				v += ": " + s.Reason
			}
			printf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.Slot, s.Algorithm, s.PINPolicy, s.TouchPolicy, v)
		}
		tw.Flush()
	}
}
