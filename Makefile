# SPDX-License-Identifier: MIT
# Convenience driver for the CMake build. Build trees:
#   build/       plain build (gcc, RelWithDebInfo)
#   build-asan/  AddressSanitizer + UBSan build (gcc, Debug -O1)
#   build-fuzz/  libFuzzer build (clang, sanitizers)
#
#   make deps    install missing Debian packages (as root) or print the line
#   make demo    build and run examples/nc2-demo
#   make check   build and run every test, plain and sanitized
#   make fuzz    build the fuzzers;  make fuzz-run FUZZ_SECONDS=N  runs them
#   make bench-shm  two-process shm benchmark against DPDK memif and vhost-user
#   make clean   remove the build trees

CMAKE ?= cmake
CTEST ?= ctest
JOBS ?= 2
NC2_CC ?= gcc
NC2_FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60

BUILD := build
BUILD_ASAN := build-asan
BUILD_FUZZ := build-fuzz

export ASAN_OPTIONS ?= detect_leaks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

.PHONY: all deps configure build demo demo-run check check-plain check-asan fuzz fuzz-run bench-shm clean

all: build

deps:
	sh cmake/deps.sh

# CC only matters the first time a tree is configured; later runs reuse the cache.
configure:
	CC=$(NC2_CC) $(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	$(CMAKE) --build $(BUILD) -j $(JOBS)

demo: deps
	$(MAKE) --no-print-directory demo-run

demo-run: configure
	@test -f examples/CMakeLists.txt || \
		{ echo "make demo: examples/CMakeLists.txt does not exist yet" >&2; exit 1; }
	$(CMAKE) --build $(BUILD) -j $(JOBS) --target nc2-demo
	./$(BUILD)/examples/nc2-demo

check: deps
	$(MAKE) --no-print-directory check-plain
	$(MAKE) --no-print-directory check-asan

check-plain: build
	$(CTEST) --test-dir $(BUILD) --output-on-failure -j $(JOBS)

check-asan:
	CC=$(NC2_CC) $(CMAKE) -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_FLAGS_DEBUG="-g -O1" -DNC2_SANITIZE=ON
	$(CMAKE) --build $(BUILD_ASAN) -j $(JOBS)
	$(CTEST) --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS)

fuzz:
	CC=$(NC2_FUZZ_CC) $(CMAKE) -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_FLAGS_DEBUG="-g -O2" -DNC2_BUILD_FUZZERS=ON -DNC2_SANITIZE=ON \
		-DNC2_BUILD_TESTS=OFF
	$(CMAKE) --build $(BUILD_FUZZ) -j $(JOBS)

fuzz-run: fuzz
	NC2_FUZZ_SECONDS=$(FUZZ_SECONDS) sh cmake/run-fuzzers.sh $(BUILD_FUZZ)

BENCH_SHM_ARGS ?=
bench-shm: configure
	sh bench/run-shm-bench.sh $(BUILD) $(BENCH_SHM_ARGS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
