# MPROG_SANITIZE: build the core, the C++ tests and the benchmarks with sanitizers.
#
#   cmake -S . -B build-tsan -DMPROG_SANITIZE=thread
#   cmake -S . -B build-asan -DMPROG_SANITIZE=address,undefined
#
# The value goes to -fsanitize= as it is (GCC and Clang). Included before any target is made,
# so the flags apply to every target of this directory and those below it. A sanitizer
# report fails the test that triggered it (tests/cpp/CMakeLists.txt sets the runtime options).
set(MPROG_SANITIZE "" CACHE STRING
  "Sanitizers for the core and the C++ tests, as -fsanitize= takes them (thread, address,undefined); empty: none")

if(MPROG_SANITIZE)
  if(MSVC)
    message(FATAL_ERROR "MPROG_SANITIZE needs GCC or Clang (-fsanitize=)")
  endif()
  set(_mprog_sanitize_flags -fsanitize=${MPROG_SANITIZE} -fno-omit-frame-pointer -g)
  if(MPROG_SANITIZE MATCHES "undefined")
    # UBSan only prints and carries on by default; make it stop, so ctest sees the failure.
    list(APPEND _mprog_sanitize_flags -fno-sanitize-recover=undefined)
  endif()
  if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
    # No build type means -O0: the stress test would crawl. -O1 keeps stacks readable.
    list(APPEND _mprog_sanitize_flags -O1)
  endif()
  add_compile_options(${_mprog_sanitize_flags})
  add_link_options(-fsanitize=${MPROG_SANITIZE})
  message(STATUS "mprog: sanitizers: ${MPROG_SANITIZE}")
endif()
