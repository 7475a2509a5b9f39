# edgepub build and packaging.
#
#   sudo make test      installs the Debian packages the suite needs
#                       (.ci/packages.txt) if missing, then gofmt, go vet,
#                       go test -race, the packaging checks, the container
#                       and the VM rig (scripts/test.sh, about 20 min)
#   make test-deps      only the package installation (root)
#   make build          dist/edgepub for this machine
#   make deb            dist/edgepub_<version>-<revision>_<arch>.deb for amd64,
#                       arm64, armhf (ARMv6, all Raspberry Pis) and armel (ARMv5)
#   make packages       only the .deb step, from binaries already in dist/<arch>/
#   make test-packaging packaging checks (systemd-analyze, lintian, contents,
#                       ARM binaries under qemu): packaging/test/ci.sh
#   make test-nspawn    the package in a booted Debian 12 container:
#                       packaging/test/nspawn.sh (root, about 70 s)
#   make test-vm        the package on a real kernel in a Debian 12 VM (qemu),
#                       with power cuts: packaging/test/vm.sh (root, ~12 min idle;
#                       CYCLES=100 for the long run)
#   make test-stress    go test -race ./... three times in a row with a busy
#                       process per core beside it: scripts/test-stress.sh
#
# VERSION is derived from git (packaging/version.sh); override it, REVISION
# (the Debian revision) and MAINTAINER on the command line when needed.

# sudo's secure_path leaves out /usr/local/go/bin, where go.dev's archive
# puts Go; the test scripts and gofmt find it through PATH.
GO         ?= $(or $(shell command -v go 2>/dev/null),$(wildcard /usr/local/go/bin/go),go)
ifneq ($(findstring /,$(GO)),)
export PATH := $(patsubst %/,%,$(dir $(GO))):$(PATH)
endif
VERSION    ?= $(shell packaging/version.sh)
REVISION   ?= 1
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null)
MAINTAINER ?= edgepub maintainers <maintainers@edgepub.invalid>
DEB_ARCHES ?= amd64 arm64 armhf armel
# Where the .debs go (binaries and generated docs stay in dist/).
PKGDIR     ?= dist

# Set at link time; see internal/buildinfo. -s -w: no symbol table or DWARF
# in the shipped binary (Debian expects stripped binaries).
BUILDINFO  := github.com/edgepub/edgepub/internal/buildinfo
LDFLAGS    := -s -w -X $(BUILDINFO).Version=$(VERSION) -X $(BUILDINFO).Commit=$(COMMIT)
# nodemo: the packaged daemon leaves out the embedded demo broker (1 MiB of
# RSS in every run, see BENCHMARKS.md); `go run ./cmd/edgepub demo` keeps it.
GOBUILD    := CGO_ENABLED=0 $(GO) build -tags nodemo -trimpath -ldflags '$(LDFLAGS)'

# Debian architecture -> Go target.
goenv_amd64 := GOOS=linux GOARCH=amd64
goenv_arm64 := GOOS=linux GOARCH=arm64
goenv_armhf := GOOS=linux GOARCH=arm GOARM=6
goenv_armel := GOOS=linux GOARCH=arm GOARM=5

# Keep dates in the package reproducible: the commit's, not the build's.
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)

.PHONY: test test-deps vet build binaries deb packages test-packaging test-nspawn test-vm test-stress clean FORCE

# The whole suite, as CI runs it (.ci/run): the integration, partition and
# packaging tests need root and the Debian packages of .ci/packages.txt.
# scripts/test.sh runs the VM rig beside go test (certs/renew's
# continuous-renewal test alone runs 10 minutes), then the packaging checks
# and the container.
test: test-deps vet
	scripts/test.sh

test-deps:
	@.ci/install-packages

vet:
	@files=$$(gofmt -l $$(git ls-files '*.go')); \
		if [ -n "$$files" ]; then echo "not gofmt-ed:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...

build:
	$(GOBUILD) -o dist/edgepub ./cmd/edgepub

binaries: $(DEB_ARCHES:%=dist/%/edgepub)

# FORCE: go build decides itself whether anything changed.
dist/%/edgepub: FORCE
	@test -n "$(goenv_$*)" || { echo "unknown Debian architecture $*"; exit 1; }
	@mkdir -p $(@D)
	$(goenv_$*) $(GOBUILD) -o $@ ./cmd/edgepub

deb: binaries
	$(MAKE) packages

packages: dist/changelog.Debian.gz dist/edgepub.1.gz
	@for arch in $(DEB_ARCHES); do \
		mkdir -p '$(PKGDIR)'; rm -f '$(PKGDIR)'/edgepub_*_$$arch.deb; \
		echo "nfpm: edgepub $(VERSION)-$(REVISION) $$arch"; \
		DEB_ARCH=$$arch VERSION='$(VERSION)' REVISION='$(REVISION)' MAINTAINER='$(MAINTAINER)' \
			$(GO) tool -modfile=tools/go.mod nfpm package -p deb -f packaging/nfpm.yaml -t '$(PKGDIR)/' || exit 1; \
	done

dist/changelog.Debian.gz: FORCE
	@mkdir -p dist
	packaging/changelog.sh '$(VERSION)-$(REVISION)' '$(COMMIT)' '$(MAINTAINER)' | gzip -9n > $@

dist/edgepub.1.gz: packaging/edgepub.1
	@mkdir -p dist
	gzip -9n < $< > $@

test-packaging:
	packaging/test/ci.sh

test-nspawn:
	packaging/test/nspawn.sh

test-vm:
	packaging/test/vm.sh

test-stress:
	scripts/test-stress.sh

clean:
	rm -rf dist
