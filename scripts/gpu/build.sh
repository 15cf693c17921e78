#!/usr/bin/env bash
# build.sh: build, on a machine with Go and a C compiler, everything the GPU check runs on the
# device machine (which has no Go toolchain): the parity test binaries of internal/model, tuning
# and inference, the sectorflow command and gobench, all linux/amd64 with cgo so that GoMLX's XLA
# backend is compiled in. The binaries are stripped and packed into one archive,
# .cache/gpu/bin.tar.gz, small enough to travel with the working tree (the device tool carries
# 64 MiB in all); device.sh unpacks it. Name .cache/gpu in the run call's carry list.
#
#   scripts/gpu/build.sh            # build all; a package without tests is skipped with a note
#   GPU_BUILD_JOBS=1 scripts/gpu/build.sh
set -uo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel) || exit 1
cd "$root" || exit 1

stage=.cache/gpu-build # uncompressed, not carried
dest=.cache/gpu        # carried: bin.tar.gz and build.txt
rm -rf "$stage" "$dest"
mkdir -p "$stage/bin" "$dest"

export CGO_ENABLED=1 GOOS=linux GOARCH=amd64 GOFLAGS=${GOFLAGS:-}
# -p bounds parallel compiles: the build machine may be shared.
jobs=${GPU_BUILD_JOBS:-2}
flags=(-p "$jobs" -trimpath -ldflags=-s\ -w)

log=$dest/build.txt
{
  echo "built: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
  go version
  echo "cc: $(${CC:-cc} --version 2>/dev/null | head -1)"
  echo "glibc here: $(ldd --version 2>/dev/null | head -1)"
} >"$log"

fail=0
for pkg in internal/model tuning inference; do
  name=$(basename "$pkg")
  if ! compgen -G "$pkg/*_test.go" >/dev/null; then
    echo "skip $pkg: no test files yet" | tee -a "$log"
    continue
  fi
  echo "go test -c ./$pkg" | tee -a "$log"
  if ! go test -c -o "$stage/bin/$name.test" "${flags[@]}" "./$pkg" 2>&1 | tee -a "$log"; then
    echo "FAILED: go test -c ./$pkg (the check runs without it)" | tee -a "$log"
    fail=1
  fi
done

for cmd in ./cmd/sectorflow ./scripts/gpu/gobench; do
  name=$(basename "$cmd")
  echo "go build $cmd" | tee -a "$log"
  if ! go build -o "$stage/bin/$name" "${flags[@]}" "$cmd" 2>&1 | tee -a "$log"; then
    echo "FAILED: go build $cmd" | tee -a "$log"
    fail=1
  fi
done

# The reference scripts make the random checkpoint there; ../shared does not travel.
if [[ -f ../shared/reference/make_tiny.py ]]; then
  mkdir -p "$stage/bin/reference"
  cp ../shared/reference/make_tiny.py ../shared/reference/torch_ref.py "$stage/bin/reference/"
else
  echo "note: ../shared/reference not found; device.sh uses scripts/gpu/reference" | tee -a "$log"
fi

# Proof that the XLA backend is compiled in: without it the error says "built without".
if [[ -x $stage/bin/sectorflow ]]; then
  probe=$(cd "$stage" && PJRT_PLUGIN_LIBRARY_PATH=/nonexistent GOMLX_BACKEND=xla:cuda \
    ./bin/sectorflow logits --model "$root/testdata/models/llama" --ids 1,2 2>&1 | head -3)
  echo "probe (expects 'not installed', not 'built without'): $probe" >>"$log"
  if grep -q "built without" <<<"$probe"; then
    echo "FAILED: the XLA backend is not compiled in (cgo off?)" | tee -a "$log"
    fail=1
  fi
fi

{
  echo "binaries:"
  (cd "$stage/bin" && ls -l)
  echo "dynamic libraries needed:"
  for f in "$stage"/bin/*; do [[ -f $f && -x $f ]] && { echo "$(basename "$f"): $(objdump -p "$f" 2>/dev/null | awk '/NEEDED/{printf "%s ", $2}')"; }; done
  echo "newest glibc symbol version needed:"
  for f in "$stage"/bin/*; do [[ -f $f && -x $f ]] && objdump -T "$f" 2>/dev/null | grep -o 'GLIBC_[0-9.]*'; done | sort -uV | tail -1
} >>"$log"

tar -C "$stage" -czf "$dest/bin.tar.gz" bin
ls -l "$dest" | tee -a "$log"
size=$(stat -c %s "$dest/bin.tar.gz")
if ((size > 48 * 1024 * 1024)); then
  echo "WARNING: bin.tar.gz is $((size >> 20)) MiB; the device tool carries 64 MiB with the tree" | tee -a "$log"
fi
exit $fail
