# breakglass — the two commands a new user needs are `make demo` and `make test`.
# Everything else here is what those two stand on.

GO      ?= go
BUILD   := build
BIN     := $(BUILD)/bin
# Debian packages the station and the tests need; `make deps` installs what is missing.
DEBS    := pcscd libpcsclite-dev pkg-config vsmartcard-vpcd yubikey-manager yubico-piv-tool opensc tmux strace
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
# Version stamped into release builds; the checksum printed by `make release` is the one
# preflight and every report show.
LDFLAGS := -s -w -buildid=

.PHONY: all deps build test test-short fuzz demo release clean

all: build

## deps: install the missing Debian packages (with sudo when not root), saying what it installs.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing </dev/null; \
	else echo "make deps: all Debian packages present ($(DEBS))"; fi

## build: the console, the virtual YubiKey and the station runner into build/bin.
build: deps
	@mkdir -p $(BIN)
	$(GO) build -buildvcs=auto -trimpath -o $(BIN)/ ./cmd/breakglass ./cmd/virtual-yubikey ./hardware/station/cmd/station

## test: every test, e2e through a private pcscd included, plus vet and a short run of every fuzz target.
test: deps build
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	@# The short fuzz run goes alongside the tests (the e2e tests mostly wait on
	@# terminals and cards); its log is printed in full when both are done.
	@./testdata/scripts/fuzz-short.sh > $(BUILD)/fuzz-short.log 2>&1 & fuzz=$$!; \
	BREAKGLASS_BIN=$(CURDIR)/$(BIN) $(GO) test -race -timeout 15m ./...; rc=$$?; \
	wait $$fuzz; frc=$$?; cat $(BUILD)/fuzz-short.log; \
	if [ $$frc -ne 0 ]; then echo "make test: the short fuzz run FAILED (the failing input is printed above)"; fi; \
	[ $$rc -eq 0 ] && [ $$frc -eq 0 ]

## fuzz: a longer run of every fuzz target (FUZZTIME each, default 2,000,000 executions; FUZZPARALLEL=N for N fuzz workers, default GOMAXPROCS).
fuzz:
	FUZZTIME=$${FUZZTIME:-2000000x} ./testdata/scripts/fuzz-short.sh

## demo: start three virtual YubiKeys behind a private pcscd and open the console on the sample vault and runbook.
demo: deps build
	@./testdata/scripts/demo.sh

## release: a reproducible binary (-trimpath, no build id, version from build info) and its SHA-256.
release: deps
	@mkdir -p $(BUILD)/release
	CGO_ENABLED=1 $(GO) build -trimpath -buildvcs=true -ldflags '$(LDFLAGS)' -o $(BUILD)/release/breakglass ./cmd/breakglass
	@cd $(BUILD)/release && sha256sum breakglass | tee breakglass.sha256

clean:
	rm -rf $(BUILD)
