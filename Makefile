# SPDX-License-Identifier: MIT
# Thin wrapper over CMake: every target installs missing dependencies first
# (tools/install-deps.sh is a quick no-op when all is there).
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test bench bench-pipeline bench-suite fuzz install clean

all: build

deps:
	@bash tools/install-deps.sh

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# The default suite against the three baselines (no network, no key), or
# against $$CAUSAL_EVAL_MODEL when it is set; RUN_ARGS adds flags.
RUN_ARGS ?=
run: build
	$(BUILD)/causal-eval run $(RUN_ARGS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

bench: build
	bash tools/bench/startup.sh $(BUILD)/causal-eval
	$(BUILD)/causal-eval tools/bench/generate.lua 5000 5
	bash tools/bench/cache.sh $(BUILD)
	bash tools/bench/stats.sh $(BUILD)

# needs nginx and wrk: tools/install-deps.sh --bench
bench-pipeline: build
	bash tools/bench/pipeline.sh $(BUILD)/causal-eval

# the performance suites as one command (docs/perf.md); BENCH_ARGS adds
# flags: BENCH_ARGS="--quick", BENCH_ARGS="--baseline before.json -o perf.html"
BENCH_ARGS ?=
bench-suite: build
	$(BUILD)/causal-eval bench $(BENCH_ARGS)

fuzz: deps
	bash tools/fuzz/run.sh 60

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
