# One place for compiler flags, applied to every careledger target through careledger_module().
add_library(careledger_flags INTERFACE)
target_compile_options(careledger_flags INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                  -Wnon-virtual-dtor -Wold-style-cast)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC 12 at -O3 warns -Wrestrict inside libstdc++'s own operator+(const char*, string&&)
  # (GCC bug 105651, fixed in 13): a false positive that every Release build printed to a new
  # user running the demo. Release only: clang-tidy reads build/test's compile commands and
  # knows no -Wno-restrict.
  target_compile_options(careledger_flags INTERFACE $<$<CONFIG:Release>:-Wno-restrict>)
endif()
if(CARELEDGER_WERROR)
  target_compile_options(careledger_flags INTERFACE -Werror)
endif()
if(CARELEDGER_SANITIZE)
  target_compile_options(careledger_flags INTERFACE -fsanitize=address,undefined
                                                    -fno-sanitize-recover=undefined
                                                    -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # ASan's instrumentation at -O1 (ops/setup.sh test) makes GCC 12 see
    # uninitialised members inside libstdc++'s std::regex (its documentation warns that
    # -fsanitize=address gives -Wmaybe-uninitialized false positives); the unsanitised builds keep
    # it.
    target_compile_options(careledger_flags INTERFACE -Wno-maybe-uninitialized)
  endif()
  target_link_options(careledger_flags INTERFACE -fsanitize=address,undefined)
endif()
if(CARELEDGER_TSAN)
  # Only careledger's own code is instrumented: librdkafka and RocksDB come from Debian without
  # it (see ops/setup.sh test --tsan and common/src/tsan_c11_threads.h).
  target_compile_options(careledger_flags INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(careledger_flags INTERFACE -fsanitize=thread)
endif()
if(CARELEDGER_FUZZ)
  # fuzzer-no-link: coverage for libFuzzer to steer by, in the libraries as well as the targets;
  # only the targets link libFuzzer's main (tests/fuzz/CMakeLists.txt).
  target_compile_options(careledger_flags INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                                                    -fno-sanitize-recover=undefined
                                                    -fno-omit-frame-pointer
                                                    # clang -Wpedantic flags the GNU ({ }) of
                                                    # rdkafka.h's type checks; g++ does not.
                                                    -Wno-gnu-statement-expression)
  target_link_options(careledger_flags INTERFACE -fsanitize=address,undefined)
endif()

# careledger_module(NAME SOURCES... DEPS ...): one static library per module, whose public
# header lives in NAME/include/careledger/.
function(careledger_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(careledger_${name} STATIC ${ARG_SOURCES})
  target_include_directories(careledger_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                                PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(careledger_${name} PUBLIC careledger_flags ${ARG_DEPS})
endfunction()
