# A thin wrapper over the CMake presets (CMakePresets.json): everything here can be
# done with `cmake --preset NAME` / `cmake --workflow --preset NAME` directly.
# Each target first makes sure the Debian packages are there (scripts/deps.sh).

DEMO_ARGS ?=

.PHONY: demo pipeline-demo bench-peers bench-replay bench-matching bench-markers test test-clang test-asan test-tsan test-determinism fuzz bench bench-journal bench-engine format format-check deps clean

# The main job: the ledger on the embedded engine, through the full pipeline, durable.
DEMO_ARGS ?= --accounts 100000 --transfers 1000000
demo: deps
	cmake --preset release
	cmake --build --preset release --target lockstep-loadgen
	./build/release/tools/loadgen/lockstep-loadgen ledger --durability fsync $(DEMO_ARGS)

# The pipeline core alone (no engine, no journal).
pipeline-demo: deps
	cmake --preset release
	cmake --build --preset release --target lockstep-pipeline-demo
	./build/release/tools/lockstep-pipeline-demo $(PIPELINE_DEMO_ARGS)

test: deps
	cmake --workflow --preset dev

test-clang: deps
	cmake --workflow --preset clang

test-asan: deps
	cmake --workflow --preset asan

test-tsan: deps
	cmake --workflow --preset tsan

# The fixed-stream digest test at -O0 (the other builds run it at -O1 and -O2).
test-determinism: deps
	cmake --preset o0
	cmake --build --preset o0
	./build/o0/tests/engine_model_test --gtest_filter='EngineModel.AFixedStream*:EngineModel.TwoRuns*'

# The libFuzzer targets (docs/fuzzing.md), each for FUZZ_SECONDS on a copy of its corpus.
FUZZ_SECONDS ?= 30
fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps
	cmake --preset release
	cmake --build --preset release --target lockstep-bench-pipeline
	mkdir -p build/bench
	./build/release/bench/lockstep-bench-pipeline --benchmark_repetitions=9 \
	  --benchmark_enable_random_interleaving=true --benchmark_min_time=0.2 \
	  --benchmark_out=build/bench/pipeline.json --benchmark_out_format=json
	python3 bench/summarize.py build/bench/pipeline.json

bench-journal: deps
	cmake --preset release
	cmake --build --preset release --target lockstep-bench-journal
	mkdir -p build/bench
	./build/release/bench/lockstep-bench-journal --benchmark_repetitions=3 \
	  --benchmark_min_time=0.3 --benchmark_report_aggregates_only=true \
	  --benchmark_out=build/bench/journal.json --benchmark_out_format=json
	python3 bench/summarize_journal.py build/bench/journal.json

# lockstep against Redis, SQLite and PostgreSQL on the same ledger workload (installs
# the peers from Debian's packages; docs/benchmarks.md, "Side by side").
bench-peers: deps
	bash bench/peers/run.sh

bench-engine: deps
	cmake --preset release
	cmake --build --preset release --target lockstep-bench-engine
	mkdir -p build/bench
	./build/release/bench/lockstep-bench-engine --benchmark_repetitions=5 \
	  --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
	  --benchmark_out=build/bench/engine.json --benchmark_out_format=json
	python3 bench/summarize_engine.py build/bench/engine.json

# The matching domain: execute stage against a hand-written book, and the loadgen's
# order flow end to end (docs/benchmarks.md, "The matching domain").
bench-matching: deps
	bench/matching/run.sh

# What the journal's idle markers cost: the durable ledger with and without them,
# interleaved (docs/benchmarks.md, "Idle markers").
bench-markers: deps
	bench/markers/run.sh

# Replay throughput and cold start (docs/benchmarks.md, "Replay and cold start"):
# bench/replay/run.sh throughput|coldstart|history.
bench-replay: deps
	bench/replay/run.sh throughput
	bench/replay/run.sh coldstart
	bench/replay/run.sh history

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

format-check:
	git ls-files '*.h' '*.cc' | xargs clang-format --dry-run --Werror
	python3 scripts/check_layers.py

deps:
	@bash scripts/deps.sh

clean:
	rm -rf build
