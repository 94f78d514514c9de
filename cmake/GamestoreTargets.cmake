# Shared compile settings for everything we write. Third-party headers come
# from /usr/include and are treated as system headers, so -Wall -Wextra only
# ever reports on our own code.
add_library(gamestore_options INTERFACE)
target_compile_options(gamestore_options INTERFACE -Wall -Wextra)
# GCC 12 flags Asio 1.18's coroutine frame allocator (awaitable_frame_base's
# sized operator delete) as mismatched when it inlines it into our
# coroutines: a false positive in the header, not in our code (GCC PR 105364).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(gamestore_options INTERFACE -Wno-mismatched-new-delete)
endif()
target_compile_features(gamestore_options INTERFACE cxx_std_20)

# gamestore_library(NAME folder-relative sources... DEPS targets...)
function(gamestore_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC gamestore_options ${ARG_DEPS})
endfunction()

# gamestore_test(NAME SOURCES files... DEPS targets... LABELS labels...)
# One Catch2 executable per tested folder, registered with ctest. Labels:
# `unit` (pure, fast), `integration` (real binaries on loopback), `soak`.
function(gamestore_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE gamestore_catch_main ${ARG_DEPS})
  add_test(NAME ${name} COMMAND ${name} --reporter compact ${ARG_ARGS})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "GAMESTORE_BUILD_DIR=${PROJECT_BINARY_DIR};GAMESTORE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# gamestore_test_on_postgres(NAME [ARGS catch2 args...]): the suite NAME
# once more, as NAME_postgres, with GAMESTORE_TEST_STORE=postgresql so its
# store fixtures open a PostgresStore on a private cluster the binary starts
# (tests/support/pg_cluster.hpp).
function(gamestore_test_on_postgres name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "LABELS;ARGS" ${ARGN})
  add_test(NAME ${name}_postgres COMMAND ${name} --reporter compact ${ARG_ARGS})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name}_postgres PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "GAMESTORE_TEST_STORE=postgresql;GAMESTORE_BUILD_DIR=${PROJECT_BINARY_DIR};GAMESTORE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# Every program a person or a script runs lands in one place, build/bin/, so
# scripts, tests and the README name `build/bin/<program>` and nothing else
# of the build tree. Tests find them through GAMESTORE_BUILD_DIR/bin.
set(GAMESTORE_BIN_DIR ${PROJECT_BINARY_DIR}/bin)

# gamestore_program(NAME SOURCES files... DEPS targets...)
function(gamestore_program name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE gamestore_options ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${GAMESTORE_BIN_DIR})
endfunction()
