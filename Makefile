# krbfleet - the two commands a newcomer needs are `make demo` and `make check`.
# Both install missing Debian packages first (scripts/install-deps.sh).

BUILD ?= build
ASAN  ?= build-asan
FUZZB ?= build-fuzz
FUZZ_SECONDS ?= 15
DEB   ?= build-deb

.PHONY: all deps build asan fuzz-build check check-stress unit demo fuzz banned clean install deb

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) >/dev/null
	@ninja -C $(BUILD) >/dev/null

asan: deps
	@[ -f $(ASAN)/build.ninja ] || meson setup $(ASAN) -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dbuildtype=debug -Dfault_injection=true >/dev/null
	@ninja -C $(ASAN) >/dev/null

fuzz-build: deps
	@[ -f $(FUZZB)/build.ninja ] || CC=clang meson setup $(FUZZB) -Dfuzz=true -Dtests=false \
	    -Db_lundef=false -Dbuildtype=debug >/dev/null
	@ninja -C $(FUZZB) >/dev/null

banned:
	@./scripts/check-banned.sh

# Unit and integration tests, then the same suite under ASan+UBSan, then a
# bounded fuzzing run of every parser of outside input, then the Debian
# packages (tests/integration/test_deb.sh builds and checks them).
check: build asan fuzz-build banned
	@./scripts/check.sh $(BUILD) $(ASAN) $(FUZZB) $(FUZZ_SECONDS)

# The integration and lab tests on a busy machine: twice (plain, then
# ASan+UBSan) while stress-ng --cpu 4 runs (about twice as long as they take).
check-stress: build asan
	@./scripts/check-stress.sh $(BUILD) $(ASAN)

# The Debian packages krbfleet and krbfleetd in $(DEB) (debian/; built from a
# copy of the tree, which stays as it was).
deb: deps
	@./scripts/build-deb.sh $(DEB)

unit: build
	@meson test -C $(BUILD) --suite unit --print-errorlogs

# The whole story on a real lab, end to end.
demo: build
	@./scripts/demo.sh $(BUILD)

# Longer fuzzing (FUZZ_SECONDS per target).
fuzz: fuzz-build
	@./scripts/run-fuzz.sh $(FUZZB) $(if $(filter 15,$(FUZZ_SECONDS)),300,$(FUZZ_SECONDS))

install: build
	@meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZB) $(DEB)

# The CLI and agent integration tests with every krbfleet, krbfleetd and
# kf-agent-probe under valgrind memcheck: zero errors, zero definitely lost
# blocks (tests/valgrind.supp: one-time allocations in system libraries only).
# `make check` runs the agent test of this list (scripts/check.sh).
.PHONY: memcheck
memcheck: build
	@./scripts/memcheck.sh $(BUILD)
