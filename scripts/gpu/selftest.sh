#!/usr/bin/env bash
# selftest.sh: check, on a machine without a GPU, what the GPU check can be checked for here:
# the scripts parse, pjrt_env.sh builds the right layout on a mock site-packages tree, and the
# binaries from build.sh load a plugin through that layout with go-xla's own loader. The mock
# plugin is a real shared library exporting GetPjrtApi, whose Plugin_Initialize fails on purpose
# with a message that includes the answer of a library it reaches only through its RPATH
# ($ORIGIN/../../nvidia/cu13/lib), as JAX's plugin reaches CUDA's libraries.
#
#   scripts/gpu/selftest.sh     # after scripts/gpu/build.sh; needs gcc; exits non-zero on failure
set -uo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel) || exit 1
cd "$root" || exit 1
fails=0
ok() { echo "ok   $*"; }
bad() {
  echo "FAIL $*"
  fails=$((fails + 1))
}
check() { # check NAME CMD...
  local name=$1
  shift
  if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name"; fi
}

check "bash -n build.sh" bash -n scripts/gpu/build.sh
check "bash -n device.sh" bash -n scripts/gpu/device.sh
check "bash -n pjrt_env.sh" bash -n scripts/gpu/pjrt_env.sh
check "bash -n selftest.sh" bash -n scripts/gpu/selftest.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check "py_compile torch_bench.py" python3 -c "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)" scripts/gpu/torch_bench.py "$tmp/tb.pyc"
check "gofmt gobench" test -z "$(gofmt -l scripts/gpu/gobench)"

# ---- a mock site-packages tree with a fake CUDA plugin ------------------------------------
site=$tmp/site-packages
mkdir -p "$site/jax_plugins/xla_cuda13" "$site/nvidia/cu13/lib" "$site/nvidia/cu13/bin" \
  "$site/nvidia/cu13/nvvm/libdevice" "$site/nvidia/cudnn/lib"
touch "$site/nvidia/cu13/nvvm/libdevice/libdevice.10.bc"
printf '#!/bin/sh\necho mock ptxas\n' >"$site/nvidia/cu13/bin/ptxas"
chmod +x "$site/nvidia/cu13/bin/ptxas"
cat >"$tmp/dep.c" <<'EOF'
int sf_selftest_dep(void) { return 42; }
EOF
pjrt_h=$(go env GOMODCACHE)/github.com/gomlx/go-xla@v0.1.4/pkg/pjrt
cat >"$tmp/plugin.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include "pjrt_c_api.h"
int sf_selftest_dep(void);
struct PJRT_Error { char msg[256]; };
static struct PJRT_Error err;
static void err_destroy(PJRT_Error_Destroy_Args *a) { (void)a; }
static void err_message(PJRT_Error_Message_Args *a) { a->message = a->error->msg; a->message_size = strlen(a->error->msg); }
static PJRT_Error *err_code(PJRT_Error_GetCode_Args *a) { a->code = PJRT_Error_Code_UNIMPLEMENTED; return NULL; }
static PJRT_Error *init(PJRT_Plugin_Initialize_Args *a) {
  (void)a;
  snprintf(err.msg, sizeof err.msg, "sectorflow-selftest-fake-pjrt: loaded, RPATH dependency answered %d", sf_selftest_dep());
  return &err;
}
static PJRT_Api api;
const PJRT_Api *GetPjrtApi(void) {
  api.struct_size = PJRT_Api_STRUCT_SIZE;
  api.pjrt_api_version.struct_size = PJRT_Api_Version_STRUCT_SIZE;
  api.pjrt_api_version.major_version = PJRT_API_MAJOR;
  api.pjrt_api_version.minor_version = PJRT_API_MINOR;
  api.PJRT_Error_Destroy = err_destroy;
  api.PJRT_Error_Message = err_message;
  api.PJRT_Error_GetCode = err_code;
  api.PJRT_Plugin_Initialize = init;
  return &api;
}
EOF
if gcc -shared -fPIC -o "$site/nvidia/cu13/lib/libsfdep.so" "$tmp/dep.c" &&
  gcc -shared -fPIC -I"$pjrt_h" -o "$site/jax_plugins/xla_cuda13/xla_cuda_plugin.so" "$tmp/plugin.c" \
    -L"$site/nvidia/cu13/lib" -lsfdep -Wl,-rpath,'$ORIGIN/../../nvidia/cu13/lib'; then
  ok "mock plugin built (RPATH \$ORIGIN/../../nvidia/cu13/lib)"
else
  bad "mock plugin build (gcc, go-xla's pjrt_c_api.h at $pjrt_h)"
fi

# ---- pjrt_env.sh on the mock tree ---------------------------------------------------------
envout=$(env -i HOME="$tmp" PATH=/usr/bin:/bin SF_PJRT_DIR="$tmp/pjrt" XLA_FLAGS=--xla_gpu_autotune_level=2 \
  bash -c 'source scripts/gpu/pjrt_env.sh /nonexistent "$0" || exit 1
    for v in PJRT_PLUGIN_LIBRARY_PATH XLA_FLAGS LD_LIBRARY_PATH PATH SF_PJRT_PLUGIN SF_PTXAS; do echo "$v=${!v}"; done' "$site")
echo "$envout" | sed 's/^/     /'
want() { # want NAME EXPECTED-LINE
  if grep -qxF -- "$2" <<<"$envout"; then ok "pjrt_env: $1"; else bad "pjrt_env: $1: want $2"; fi
}
want "plugin directory" "PJRT_PLUGIN_LIBRARY_PATH=$tmp/pjrt/jax_plugins/xla_cuda13"
want "cuda data dir first, user flags kept" "XLA_FLAGS=--xla_gpu_cuda_data_dir=$site/nvidia/cu13 --xla_gpu_autotune_level=2"
want "nvidia libraries" "LD_LIBRARY_PATH=$site/nvidia/cu13/lib:$site/nvidia/cudnn/lib"
want "ptxas on PATH" "PATH=$site/nvidia/cu13/bin:/usr/bin:/bin"
want "plugin path" "SF_PJRT_PLUGIN=$site/jax_plugins/xla_cuda13/xla_cuda_plugin.so"
link=$tmp/pjrt/jax_plugins/xla_cuda13/pjrt_c_api_cuda_plugin.so
if [[ $(readlink "$link") == "$site/jax_plugins/xla_cuda13/xla_cuda_plugin.so" ]]; then ok "pjrt_env: link named for go-xla"; else bad "pjrt_env: link $link"; fi
if [[ -d $tmp/pjrt/jax_plugins/xla_cuda13/../../nvidia/cu13/lib && -d $tmp/pjrt/jax_plugins/xla_cuda13/../nvidia/cu13/lib ]]; then
  ok "pjrt_env: \$ORIGIN/../nvidia and \$ORIGIN/../../nvidia resolve beside the link"
else
  bad "pjrt_env: nvidia mirrors"
fi
if ! env -i PATH=/usr/bin:/bin bash scripts/gpu/pjrt_env.sh /nonexistent >/dev/null 2>"$tmp/err"; then
  ok "pjrt_env: no plugin is an error ($(head -1 "$tmp/err" | cut -c1-60)...)"
else
  bad "pjrt_env: no plugin should fail"
fi

# ---- go-xla's loader through that layout ------------------------------------------------
bin=.cache/gpu-build/bin/sectorflow
if [[ ! -x $bin ]]; then
  bad "no $bin: run scripts/gpu/build.sh first"
else
  # By absolute path (GOMLX_BACKEND=xla:/path), with LD_LIBRARY_PATH cleared: only the RPATH
  # through the mirror can find the dependency.
  out=$(env PJRT_PLUGIN_LIBRARY_PATH="$tmp/pjrt/jax_plugins/xla_cuda13" LD_LIBRARY_PATH= \
    XLA_FLAGS=--xla_gpu_cuda_data_dir="$site/nvidia/cu13" GOMLX_BACKEND="xla:$link" \
    "$bin" logits --model testdata/models/llama --ids 1 2>&1)
  if grep -q "RPATH dependency answered 42" <<<"$out"; then
    ok "go-xla loads the plugin through the link, RPATH resolved via the mirror"
  else
    bad "go-xla load through the link: $out"
  fi
  # The same by name: a non-cuda name, since cuda names need /dev/nvidia* (go-xla and
  # internal/backend both check).
  ln -sfn "$site/jax_plugins/xla_cuda13/xla_cuda_plugin.so" "$tmp/pjrt/jax_plugins/xla_cuda13/pjrt_c_api_sftest_plugin.so"
  out=$(env PJRT_PLUGIN_LIBRARY_PATH="$tmp/pjrt/jax_plugins/xla_cuda13" LD_LIBRARY_PATH= \
    XLA_FLAGS=--xla_gpu_cuda_data_dir="$site/nvidia/cu13" GOMLX_BACKEND=xla:sftest \
    "$bin" logits --model testdata/models/llama --ids 1 2>&1)
  if grep -q "RPATH dependency answered 42" <<<"$out"; then
    ok "go-xla finds pjrt_c_api_<name>_plugin.so by name on PJRT_PLUGIN_LIBRARY_PATH"
  else
    bad "go-xla search by name: $out"
  fi
  # Without the mirror the RPATH cannot resolve: the check above is not vacuous.
  mkdir -p "$tmp/bare"
  ln -sfn "$site/jax_plugins/xla_cuda13/xla_cuda_plugin.so" "$tmp/bare/pjrt_c_api_cuda_plugin.so"
  out=$(env LD_LIBRARY_PATH= GOMLX_BACKEND="xla:$tmp/bare/pjrt_c_api_cuda_plugin.so" \
    "$bin" logits --model testdata/models/llama --ids 1 2>&1)
  if grep -q "libsfdep.so" <<<"$out"; then
    ok "a bare link elsewhere does not resolve the RPATH (libsfdep.so not found), as expected"
  else
    bad "bare link: expected a libsfdep.so load error, got: $out"
  fi
fi

echo
if ((fails)); then
  echo "selftest: $fails failed"
  exit 1
fi
echo "selftest: all passed"
