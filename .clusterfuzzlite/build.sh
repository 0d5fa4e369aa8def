#!/bin/bash -eu
# Builds every fuzz target into $OUT: ClusterFuzzLite / OSS-Fuzz run this inside the image of
# .clusterfuzzlite/Dockerfile with $SRC, $OUT, $WORK, $CXX, $CXXFLAGS and $LIB_FUZZING_ENGINE
# set for the build being made (a sanitizer, or coverage). Outside that image every one of
# them has a default, so CI (.ci/run) runs this very script on the machine itself:
#
#   bash .clusterfuzzlite/build.sh        # -> build-cflite/out/{core_ops_fuzzer,differential_fuzzer,...}
#
# Targets: core_ops_fuzzer (the C++ core alone, libFuzzer), differential_fuzzer and
# generator_fuzzer (core vs model through atheris, when atheris is importable). Each gets a seed
# corpus zip.
# The project is the working directory: the Dockerfile's WORKDIR, or the checkout CI runs in.
project=$(pwd)
: "${OUT:=$project/build-cflite/out}"
: "${WORK:=$project/build-cflite/work}"
: "${CXX:=clang++}"
: "${CXXFLAGS:=-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize=fuzzer-no-link}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
mkdir -p "$OUT" "$WORK"

# ---- the C++ core target: CXXFLAGS carry the sanitizers and coverage, so the fuzz
# CMakeLists adds none of its own (MPROG_FUZZ_SANITIZE empty).
cmake -S "$project" -B "$WORK/core" -G Ninja -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS" -DMPROG_FUZZ=ON -DMPROG_FUZZ_SANITIZE= \
  -DMPROG_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" -DMPROG_BUILD_TESTS=OFF -DMPROG_INSTALL=OFF >/dev/null
cmake --build "$WORK/core" --target core_ops_fuzzer
cp "$WORK/core/fuzz/core_ops_fuzzer" "$OUT/core_ops_fuzzer"
rm -rf "$WORK/seeds" && python3 "$project/fuzz/core_ops_seeds.py" "$WORK/seeds/core_ops"
(cd "$WORK/seeds/core_ops" && python3 -m zipfile -c "$OUT/core_ops_fuzzer_seed_corpus.zip" ./*)
cp "$project/fuzz/core_ops_fuzzer.options" "$OUT/"

# ---- the Python harnesses, core against model through atheris: differential_fuzzer (hypothesis
# traces through fuzz_one_input) and generator_fuzzer (the campaign's generator reading the input).
if ! python3 -c 'import atheris, hypothesis' 2>/dev/null; then
  echo "build.sh: atheris or hypothesis is not importable; the Python harnesses not built" >&2
  exit 0
fi
frozen=$(command -v pyinstaller || true)
if [ -n "$frozen" ]; then
  # In the image: the extension built with this build's flags, frozen as OSS-Fuzz documents
  # for Python targets, and started with the sanitizer runtime preloaded. Without LTO (which
  # pybind11 adds by default): the linker drops the coverage counters' constructors of an LTO
  # object and the link fails; unstripped, so a sanitizer report names functions.
  pip3 install --no-build-isolation -Ccmake.define.CMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF \
    -Cinstall.strip=false "$project"
fi
for harness in differential_fuzzer generator_fuzzer; do
  if [ -n "$frozen" ]; then
    pyinstaller --distpath "$OUT" --workpath "$WORK/pyinstaller" --specpath "$WORK" --onefile \
      --name "$harness.pkg" "$project/fuzz/$harness.py"
    cat > "$OUT/$harness" <<EOF
#!/bin/sh
# LLVMFuzzerTestOneInput: a Python target, frozen by pyinstaller; this line marks it a fuzzer.
this_dir=\$(dirname "\$0")
LD_PRELOAD=\$this_dir/sanitizer_with_fuzzer.so \\
ASAN_OPTIONS=\$ASAN_OPTIONS:symbolize=1:external_symbolizer_path=\$this_dir/llvm-symbolizer:detect_leaks=0 \\
exec "\$this_dir/$harness.pkg" "\$@"
EOF
  else
    # On a plain machine: the mprog already installed in this Python, started as it is.
    cat > "$OUT/$harness" <<EOF
#!/bin/sh
# LLVMFuzzerTestOneInput: a Python target; this line marks it a fuzzer.
exec "$(command -v python3)" "$project/fuzz/$harness.py" "\$@"
EOF
  fi
  chmod +x "$OUT/$harness"
  python3 "$project/fuzz/$harness.py" --write-seeds "$WORK/seeds/$harness"
  (cd "$WORK/seeds/$harness" && python3 -m zipfile -c "$OUT/${harness}_seed_corpus.zip" ./*)
done
