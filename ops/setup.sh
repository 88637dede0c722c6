#!/usr/bin/env bash
# Installs what careledger needs from Debian 12 packages, builds it, and runs it.
#
#   ops/setup.sh demo [demo flags]   Release build, then `careledger demo`
#   ops/setup.sh test [--tsan]       -Werror build of everything under ASan+UBSan (build/test),
#                                    then the whole suite with ctest (--tsan: the concurrent
#                                    tests only, under TSan, in build/tsan)
#   ops/setup.sh build               Release build only (build/release/app/careledger)
#   ops/setup.sh bench               -Werror build of the benches, optimised and unsanitised
#                                    (build/bench/bench; bench/run-all.sh runs them)
#   ops/setup.sh tidy                clang-tidy (.clang-tidy) over the modules and app/, using
#                                    build/tidy's compile commands; any warning fails
#   ops/setup.sh fuzz [SECONDS]      clang build of the libFuzzer targets (build/fuzz), each run
#                                    SECONDS (default 12) over tests/robustness/corpus/<target>/
#
# Idempotent: installs only missing packages (running `apt-get update` once, when it must),
# and re-running reuses the build directories.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  g++ cmake make pkg-config        # toolchain
  librdkafka-dev                   # Kafka client and its mock cluster (rdkafka_mock.h)
  librocksdb-dev                   # the event store
  libsimdjson-dev                  # JSON parsing on the hot path
  libssl-dev                       # SHA-256 for the log's hash chain
  libspdlog-dev libfmt-dev         # logging
  libcli11-dev                     # command line
  libtomlplusplus-dev              # the settings file (TOML)
  libgtest-dev libgmock-dev        # tests
  libvalijson-dev nlohmann-json3-dev  # tests: reference JSON Schema validator for schemas/
  libbenchmark-dev                 # bench/
  kcat                             # interoperability tests, and handy for operators
  libcpp-httplib-dev               # the HTTP server of `serve`/`run` (and the tests' client)
  libgoogle-perftools-dev          # tcmalloc: ingest's many small allocations
)
# Only `test` needs these.
TEST_PACKAGES=(
  prometheus                       # promtool: tests/ops checks and tests ops/prometheus rules
  chromium                         # headless browser: tests/integration/dashboard_test.cc, board-pack --pdf
  poppler-utils                    # pdfinfo, pdftotext: the board pack PDF test reads its pages and text
  postgresql                       # bench/postgres_peer.cc: the PostgreSQL peer (initdb, pg_ctl, psql)
  openssl                          # the openssl command: the self-signed certificate of the TLS serve test
)
# Only `tidy` needs these.
TIDY_PACKAGES=(
  clang-tidy                       # clang-tidy and run-clang-tidy, with the committed .clang-tidy
)
# Only `fuzz` needs these.
FUZZ_PACKAGES=(
  clang libclang-rt-dev            # libFuzzer and its sanitizer runtimes (tests/fuzz)
)

# `test --tsan`: the targets and tests (a ctest -R regex) that run threads side by side.
# (The integration test binary holds only their files in a TSan build: tests/integration.)
TSAN_TARGETS="careledger_integration_tests"
TSAN_TESTS='^(Run|Serve|ServeBesideIngest|IngestPipeline)\.|^Replay\.BesideARunningIngest'

log() { printf '== %s\n' "$*" >&2; }

# The test build: every target, the benches' smoke run included, under ASan+UBSan, at -O1 -g1
# as ASan's documentation advises for speed (at -O0 the suite took 3.7 times as long as
# unsanitised; line tables are all the reports need). One sanitised suite rather than a plain
# one and a sanitised one: on CI's two cores both did not fit its half hour.
TEST_BUILD=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1"
            -DCARELEDGER_WERROR=ON -DCARELEDGER_SANITIZE=ON -DCARELEDGER_BENCH=ON)

install_packages() {  # extra packages...
  local missing=() p
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages: all present"
    return
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  log "installing: ${missing[*]}"
  local apt_log
  apt_log=$(mktemp)
  if ! { $sudo apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
           "${missing[@]}"; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    echo "apt-get failed (output above)" >&2
    exit 1
  fi
  rm -f "$apt_log"
}

ncpu() { nproc 2>/dev/null || echo 2; }

configure_and_build() {  # dir, cmake args...
  local dir=$1; shift
  log "building in $dir"
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$(ncpu)"
}

cmd=${1:-}
shift || true
case "$cmd" in
  demo)
    install_packages
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DCARELEDGER_TESTS=OFF \
      -DCARELEDGER_BENCH=OFF
    # The example settings give the demo its area populations (for rates) and the dashboard's
    # address; flags after `demo` override them (e.g. --listen 127.0.0.1:9090, --no-serve).
    # The published comparator tables beside the project (../shared/fixtures), when they are
    # there, for the KPIs' England, regional and neighbours' figures; read, never copied.
    reference=()
    for table in ../shared/fixtures/socialcare/dfe-cla-la-2021-2025/la_cla_placement_stability.csv \
                 ../shared/fixtures/yjs/trafford-children-cautioned-sentenced/children_offending.csv; do
      [[ -f $table ]] && reference+=(--reference "$table")
    done
    log "running: careledger demo --config ops/examples/embedded.toml ${reference[*]} $*"
    exec build/release/app/careledger demo --config ops/examples/embedded.toml "${reference[@]}" "$@"
    ;;
  build)
    install_packages
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DCARELEDGER_TESTS=OFF \
      -DCARELEDGER_BENCH=OFF
    ;;
  test)
    install_packages "${TEST_PACKAGES[@]}"
    if [ "${1:-}" = "--tsan" ]; then
      # Only the tests that run threads side by side, and only what they need: ingest and serve
      # in one process (`careledger run`), the ingest writer thread, replay beside an ingest,
      # the HTTP server. -O1 -g1 (line tables) compiles faster and is all TSan's reports need.
      log "building in build/tsan"
      cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCARELEDGER_WERROR=ON -DCARELEDGER_TSAN=ON \
        -DCARELEDGER_BENCH=OFF >/dev/null
      cmake --build build/tsan -j "$(ncpu)" --target $TSAN_TARGETS
      # Exported, so the careledger processes the tests start inherit it; every process writes
      # its reports to build/tsan/reports, so a race in a child whose exit code no test reads
      # still fails the run. librdkafka and RocksDB are not instrumented: TSan cannot see their
      # atomics, so what they touch is left out (ignore_noninstrumented_modules) rather than
      # reported as races; their locks still count (common/src/tsan_c11_threads.h). Our own
      # code is checked in full.
      reports=$PWD/build/tsan/reports
      rm -rf "$reports" && mkdir -p "$reports"
      export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:log_path=$reports/tsan}
      log "running the concurrent tests under TSan in build/tsan"
      status=0
      ctest --test-dir build/tsan --output-on-failure -j "$(ncpu)" -R "$TSAN_TESTS" || status=1
      if compgen -G "$reports/tsan.*" >/dev/null; then
        cat "$reports"/tsan.* >&2
        log "ThreadSanitizer reported the above (in $reports)"
        status=1
      fi
      exit "$status"
    fi
    configure_and_build build/test "${TEST_BUILD[@]}"
    # Exported, so the careledger processes the tests start are checked the same way.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    log "running the test suite in build/test (ASan+UBSan)"
    ctest --test-dir build/test --output-on-failure -j "$(ncpu)"
    ;;
  bench)
    install_packages "${TEST_PACKAGES[@]}"
    configure_and_build build/bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCARELEDGER_WERROR=ON \
      -DCARELEDGER_TESTS=OFF -DCARELEDGER_BENCH=ON
    ;;
  tidy)
    install_packages "${TIDY_PACKAGES[@]}"
    # An unsanitised configuration in build/tidy gives the compile commands (clang knows
    # neither GCC's -Wno-maybe-uninitialized that the sanitised test build needs nor its
    # sanitiser options); nothing is built. Our sources only (the modules and app/): not tests/,
    # bench/ or generated files.
    log "configuring build/tidy for its compile commands"
    cmake -S . -B build/tidy -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCARELEDGER_WERROR=ON >/dev/null
    log "clang-tidy over the modules and app/ (.clang-tidy; any warning fails)"
    run-clang-tidy -p build/tidy -j "$(ncpu)" -quiet \
      "^$PWD/(common|store|projections|producers|consumers|reporting|app)/" >build/tidy.log 2>&1 ||
      { grep -E -A4 '(warning|error): ' build/tidy.log >&2 || tail -n 40 build/tidy.log >&2
        log "clang-tidy FAILED (all of it in build/tidy.log)"; exit 1; }
    log "clang-tidy: clean"
    ;;
  fuzz)
    seconds=${1:-12}
    install_packages "${FUZZ_PACKAGES[@]}"
    log "building the fuzz targets in build/fuzz"
    cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCARELEDGER_FUZZ=ON -DCARELEDGER_TESTS=OFF -DCARELEDGER_BENCH=OFF >/dev/null
    cmake --build build/fuzz -j "$(ncpu)" --target careledger_fuzzers
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    # New inputs go to a scratch corpus, so the committed seeds stay small; crashes land in
    # build/fuzz/artifacts/<target>/ and fail the run. A fuzzer runs on one core: as many run
    # side by side as there are cores.
    fuzz_one() {  # target
      local target=$1 work=build/fuzz/corpus/$1 artifacts=build/fuzz/artifacts/$1
      mkdir -p "$work" "$artifacts"
      log "fuzzing $target for ${seconds}s"
      if ! "build/fuzz/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 \
           -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
           "$work" "tests/robustness/corpus/$target" 2>"build/fuzz/$target.log"; then
        tail -n 40 "build/fuzz/$target.log" >&2
        log "fuzz_$target FAILED: the input is in $artifacts/"
        return 1
      fi
      grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
        "build/fuzz/$target.log" | sed "s/^/$target: /" >&2 || true
    }
    status=0
    running=()
    for target in envelope ssda903 police_csv yjs_csv settings; do
      fuzz_one "$target" &
      running+=($!)
      if [ "${#running[@]}" -ge "$(ncpu)" ]; then
        wait "${running[0]}" || status=1
        running=("${running[@]:1}")
      fi
    done
    for pid in "${running[@]}"; do wait "$pid" || status=1; done
    exit "$status"
    ;;
  *)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
