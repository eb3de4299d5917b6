package vyk

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

// TEST ONLY hierarchies modelled on Yubico's (testdata/attestation).
var (
	//go:embed testroot/yubico-2018-style-root.pem
	root2018PEM []byte
	//go:embed testroot/yubico-2018-style-root.key.pem
	root2018KeyPEM []byte
	//go:embed testroot/yubico-2024-style-root.pem
	root2024PEM []byte
	//go:embed testroot/yubico-2024-style-intermediate.pem
	intermediate2024PEM []byte
	//go:embed testroot/yubico-2024-style-piv-ca.pem
	pivCA2024PEM []byte
	//go:embed testroot/yubico-2024-style-piv-ca.key.pem
	pivCA2024KeyPEM []byte
)

// Test attestation hierarchies, by the name --test-root takes.
const (
	// RootTest is the P-256 "breakglass TEST ONLY attestation root"
	// (testdata/attestation/attestation-root.pem), issuing device
	// certificates directly. Default for firmware 5.4.3 and for Config{}.
	RootTest = "test"
	// Root2018 is an RSA-2048 root shaped like Yubico's "PIV Root CA Serial
	// 263751" (testdata/attestation/yubico-2018-style-root.pem), issuing
	// device certificates directly, as for real keys before 5.7.4.
	Root2018 = "2018"
	// Root2024 is an RSA-2048 root shaped like Yubico's "Attestation Root
	// 1" (yubico-2024-style-root.pem) with two intermediates, "Attestation
	// Intermediate B 1" (yubico-2024-style-intermediate.pem) and "PIV
	// Attestation B 1" (yubico-2024-style-piv-ca.pem), which issues the
	// device certificates, as for real keys from 5.7.4. Default for 5.7.4.
	Root2024 = "2024"
)

// TestHierarchy returns a TEST ONLY attestation hierarchy by name (RootTest,
// Root2018, Root2024): the CA that issues device certificates, the root a
// verifier must trust, and the intermediates between them (nearest the CA
// first), which real YubiKeys do not carry and verifiers must be given.
func TestHierarchy(name string) (ca *CA, rootPEM, intermediatesPEM []byte, err error) {
	switch name {
	case RootTest:
		ca, err = TestCA()
		return ca, TestRootPEM(), nil, err
	case Root2018:
		ca, err = ParseCA(root2018PEM, root2018KeyPEM)
		return ca, slices.Clone(root2018PEM), nil, err
	case Root2024:
		ca, err = ParseCA(pivCA2024PEM, pivCA2024KeyPEM)
		return ca, slices.Clone(root2024PEM), slices.Concat(pivCA2024PEM, intermediate2024PEM), err
	}
	return nil, nil, nil, fmt.Errorf("unknown test attestation root %q (want %s, %s or %s)", name, RootTest, Root2018, Root2024)
}

// Profile is a YubiKey 5 firmware the virtual key models. The version
// decides the algorithms (RSA-1024/2048 and P-256/P-384 always; RSA-3072/
// 4096, Ed25519 and X25519 from 5.7) and the factory management key (3DES
// before 5.7, AES-192 from 5.7); every profile has an RSA-2048 f9 device
// key, as real keys do, three PIN and PUK retries, and F7 metadata.
type Profile struct {
	Name     string  // the --firmware value, e.g. "5.4.3"
	Version  [3]byte // what GET VERSION answers
	TestRoot string  // default test hierarchy for the device certificate
}

// DefaultProfile is firmware 5.4.3, the YubiKey 5 most often met in the
// field: 5.4.x shipped for about three years before 5.7 (2024), keys are
// never upgraded in the field, and a custodian's key is typically years
// old, so most keys brought on the day run it.
const DefaultProfile = "5.4.3"

var profiles = []Profile{
	{Name: "5.4.3", Version: [3]byte{5, 4, 3}, TestRoot: RootTest},
	{Name: "5.7.4", Version: [3]byte{5, 7, 4}, TestRoot: Root2024},
}

// Profiles returns the firmware profiles, oldest first.
func Profiles() []Profile { return slices.Clone(profiles) }

// ProfileNames returns the accepted --firmware values, comma-separated.
func ProfileNames() string {
	var names []string
	for _, p := range profiles {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// ProfileConfig returns a Config for firmware profile name with its
// device certificate issued under the named test hierarchy ("" = the
// profile's default). The caller adds serial and environment.
func ProfileConfig(name, testRoot string) (Config, error) {
	i := slices.IndexFunc(profiles, func(p Profile) bool { return p.Name == name })
	if i < 0 {
		return Config{}, fmt.Errorf("unknown firmware %q (want one of %s)", name, ProfileNames())
	}
	p := profiles[i]
	if testRoot == "" {
		testRoot = p.TestRoot
	}
	ca, _, _, err := TestHierarchy(testRoot)
	if err != nil {
		return Config{}, err
	}
	return Config{Version: p.Version, CA: ca, RSADeviceKey: true}, nil
}
