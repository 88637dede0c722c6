# Every dependency comes from a Debian 12 package (ops/setup.sh installs them); nothing is
# downloaded or vendored.
find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)   # librdkafka-dev
find_package(RocksDB REQUIRED CONFIG)                         # librocksdb-dev
find_package(simdjson REQUIRED CONFIG)                        # libsimdjson-dev
find_package(spdlog REQUIRED CONFIG)                          # libspdlog-dev
find_package(CLI11 REQUIRED CONFIG)                           # libcli11-dev
find_package(tomlplusplus 3 REQUIRED CONFIG)                  # libtomlplusplus-dev (settings)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)  # libcpp-httplib-dev (serve)
find_package(OpenSSL REQUIRED)                                # libssl-dev (SHA-256)
find_package(Threads REQUIRED)
if(CARELEDGER_TESTS)
  find_package(GTest REQUIRED)                                # libgtest-dev, libgmock-dev
  # A reference JSON Schema validator that tests cross-check ours against.
  find_package(nlohmann_json REQUIRED CONFIG)                 # nlohmann-json3-dev
  find_package(valijson REQUIRED CONFIG)                      # libvalijson-dev
endif()
if(CARELEDGER_BENCH)
  find_package(benchmark REQUIRED CONFIG)                     # libbenchmark-dev
endif()

# tcmalloc (libgoogle-perftools-dev) for the binaries that run the pipeline: ingest makes and
# frees many small strings a batch (keys, rows, timelines) and spent a third of its main
# thread in glibc's malloc and free; with tcmalloc's per-thread caches the demo feed ingested
# 45-52 k events/s against 26-35 k (bench/README.md). Not under a sanitizer, which brings its
# own allocator.
if(NOT CARELEDGER_SANITIZE AND NOT CARELEDGER_TSAN AND NOT CARELEDGER_FUZZ)
  find_library(CARELEDGER_TCMALLOC NAMES tcmalloc_minimal REQUIRED)
endif()
function(careledger_use_tcmalloc target)
  if(CARELEDGER_TCMALLOC)
    target_link_libraries(${target} PRIVATE ${CARELEDGER_TCMALLOC})
  endif()
endfunction()
