# The verbs: run, test, build, fmt, clean. Each installs what it needs.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build run test fmt clean

all: build

deps:
	@deploy/local/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR) -j$(JOBS)

tests/interop/node_modules/.package-lock.json: tests/interop/package-lock.json
	cd tests/interop && npm ci --no-audit --no-fund

run: build
	@deploy/local/run.sh

# Fuzzing first, so ctest's summary closes the output.
test: build tests/interop/node_modules/.package-lock.json
	$(MAKE) fuzz FUZZ_SECONDS=60
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600

fmt:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR)

# The unit and integration suites (and the server they start) built with
# sanitizers, each in a build of its own: AddressSanitizer with
# UndefinedBehaviorSanitizer, and ThreadSanitizer (see
# tests/support/tsan_c11_threads.cc for librdkafka's threads). Any report
# fails the test that caused it.
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
SANITIZER_LABELS = '^(unit|integration)$$'
.PHONY: test-asan test-tsan
test-asan: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DFEED_INGEST_SANITIZE=address
	ninja -C $(ASAN_DIR) -j$(JOBS) unit_integration_suites
	cd $(ASAN_DIR) && \
	  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -L $(SANITIZER_LABELS) --timeout 900

test-tsan: deps
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DFEED_INGEST_SANITIZE=thread
	ninja -C $(TSAN_DIR) -j$(JOBS) unit_integration_suites
	cd $(TSAN_DIR) && \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -L $(SANITIZER_LABELS) --timeout 900

# Benchmarks (not part of `make test`, which runs each once at a tiny size).
.PHONY: bench bench-micro
bench: build
	python3 tests/bench/run_bench.py --build-dir $(BUILD_DIR)

bench-micro: build
	$(BUILD_DIR)/feed-ingest-micro-bench

# The local stack: Kafka (KRaft), feed-ingest, Prometheus, Grafana. Needs a
# Docker engine.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
.PHONY: up down
up:
	$(COMPOSE) up -d --build
	@echo "Grafana http://localhost:3000  Prometheus http://localhost:9090  gRPC 127.0.0.1:50051  Kafka 127.0.0.1:9094"

down:
	$(COMPOSE) down

# libFuzzer targets under AddressSanitizer and UBSan, built with clang in a
# build of their own. `make fuzz` runs each for FUZZ_SECONDS.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 600
.PHONY: fuzz
fuzz: deps
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DFEED_INGEST_FUZZ=ON
	ninja -C $(FUZZ_DIR) -j$(JOBS) request_fuzzer record_fuzzer
	tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)
