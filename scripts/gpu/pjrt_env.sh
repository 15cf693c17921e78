# pjrt_env.sh: point GoMLX's XLA backend (go-xla v0.1.4) at the CUDA PJRT plugin that JAX installs
# with pip (jax-cuda13-pjrt or jax-cuda12-pjrt), without downloading anything.
#
#   source scripts/gpu/pjrt_env.sh              # search python3's site-packages
#   source scripts/gpu/pjrt_env.sh SITE_DIR...  # search these site-packages directories
#   scripts/gpu/pjrt_env.sh [SITE_DIR...]       # print the export lines instead (eval-able)
#
# What it does, and why:
#   - JAX's plugin is site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so. go-xla finds
#     plugins by file name, pjrt_c_api_<name>_plugin.so, in the directories of
#     PJRT_PLUGIN_LIBRARY_PATH; so it makes $SF_PJRT_DIR/jax_plugins/xla_cuda13/
#     pjrt_c_api_cuda_plugin.so, a symbolic link to the plugin, and puts that directory on
#     PJRT_PLUGIN_LIBRARY_PATH: GOMLX_BACKEND=xla:cuda then selects it.
#   - The plugin finds CUDA's libraries through an RPATH relative to its own directory ($ORIGIN),
#     and the dynamic loader takes $ORIGIN from the link's directory, not the target's; so
#     $SF_PJRT_DIR/nvidia and $SF_PJRT_DIR/jax_plugins/nvidia link to site-packages/nvidia, which
#     serves both $ORIGIN/../nvidia and $ORIGIN/../../nvidia. LD_LIBRARY_PATH also lists every
#     site-packages/nvidia/*/lib, because JAX itself preloads some of them from Python.
#   - XLA compiles kernels with libdevice and ptxas from CUDA's "data directory". go-xla v0.1.4
#     sets XLA_FLAGS=--xla_gpu_cuda_data_dir to a path from its author's machine unless the flag is
#     already there, so the flag is always set here: to the first directory holding
#     nvvm/libdevice/libdevice.10.bc (pip's nvidia/cu13, nvidia/cuda_nvcc, then CUDA_HOME,
#     /usr/local/cuda). The directory of a ptxas found there or on PATH goes first on PATH.
#   - SF_PJRT_PLUGIN is the plugin's own path: GOMLX_BACKEND=xla:$SF_PJRT_PLUGIN loads it
#     directly, with no link at all (the fallback when the link does not load).
#
# Exports PJRT_PLUGIN_LIBRARY_PATH, XLA_FLAGS, LD_LIBRARY_PATH, PATH, SF_PJRT_PLUGIN,
# SF_PJRT_SITE, SF_CUDA_DATA_DIR, SF_PTXAS. Returns non-zero, with a message on stderr, when no
# plugin is found. Bash only.

sf_pjrt_env() {
  local py=${PYTHON:-python3}
  local -a sites=("$@")
  if ((${#sites[@]} == 0)); then
    local line
    while IFS= read -r line; do
      [[ -n $line ]] && sites+=("$line")
    done < <("$py" -c 'import site, sysconfig
seen = []
for d in [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]] + site.getsitepackages() + [site.getusersitepackages()]:
    if d not in seen:
        seen.append(d)
        print(d)' 2>/dev/null)
  fi
  local site="" plugin="" s cand
  for s in "${sites[@]}"; do
    for cand in "$s"/jax_plugins/xla_cuda*/xla_cuda_plugin.so; do
      if [[ -f $cand ]]; then
        site=$s plugin=$cand
        break 2
      fi
    done
  done
  if [[ -z $plugin ]]; then
    echo "pjrt_env: no jax_plugins/xla_cuda*/xla_cuda_plugin.so under: ${sites[*]:-(no site-packages found)}" >&2
    echo "pjrt_env: install it with: pip install 'jax[cuda13]' (or jax-cuda13-pjrt)" >&2
    return 1
  fi

  local dir=${SF_PJRT_DIR:-${TMPDIR:-/tmp}/sectorflow-pjrt}
  local sub
  sub=$(basename "$(dirname "$plugin")")
  mkdir -p "$dir/jax_plugins/$sub" || return 1
  ln -sfn "$plugin" "$dir/jax_plugins/$sub/pjrt_c_api_cuda_plugin.so" || return 1
  if [[ -d $site/nvidia ]]; then
    ln -sfn "$site/nvidia" "$dir/nvidia"
    ln -sfn "$site/nvidia" "$dir/jax_plugins/nvidia"
  fi
  export PJRT_PLUGIN_LIBRARY_PATH="$dir/jax_plugins/$sub"

  # CUDA data directory: libdevice (and, preferably, ptxas beside it).
  local data="" ptxas="" d
  local -a datas=("$site/nvidia/cu13" "$site/nvidia/cu12" "$site/nvidia/cuda_nvcc" "$site/nvidia/cuda_nvvm")
  [[ -n ${CUDA_HOME:-} ]] && datas+=("$CUDA_HOME")
  [[ -n ${CUDA_PATH:-} ]] && datas+=("$CUDA_PATH")
  datas+=(/usr/local/cuda /usr/local/cuda-13.0 /usr/local/cuda-13 /usr/lib/cuda)
  for d in "${datas[@]}"; do
    if [[ -f $d/nvvm/libdevice/libdevice.10.bc ]]; then
      if [[ -z $data ]]; then data=$d; fi
      if [[ -x $d/bin/ptxas ]]; then
        data=$d ptxas=$d/bin/ptxas
        break
      fi
    fi
  done
  if [[ -z $ptxas ]]; then
    for d in "${datas[@]}"; do
      if [[ -x $d/bin/ptxas ]]; then ptxas=$d/bin/ptxas && break; fi
    done
  fi
  if [[ -z $ptxas ]] && command -v ptxas >/dev/null 2>&1; then ptxas=$(command -v ptxas); fi
  if [[ -z $data ]]; then
    # Nothing holds libdevice: still override go-xla's hard-coded path with the likeliest one.
    data=$site/nvidia
    echo "pjrt_env: warning: no nvvm/libdevice/libdevice.10.bc found; XLA may fail to compile kernels" >&2
  fi
  local flags=${XLA_FLAGS:-}
  if [[ $flags != *--xla_gpu_cuda_data_dir* ]]; then
    flags="--xla_gpu_cuda_data_dir=$data${flags:+ $flags}"
  fi
  export XLA_FLAGS=$flags
  if [[ -n $ptxas ]]; then
    export PATH="$(dirname "$ptxas"):$PATH"
  fi

  # Shared libraries: every site-packages/nvidia/*/lib, then the driver's directory if mounted.
  local libs="" l
  for l in "$site"/nvidia/*/lib "$site"/nvidia/*/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    if [[ -d $l ]]; then libs+="${libs:+:}$l"; fi
  done
  if [[ -n $libs ]]; then
    export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  export SF_PJRT_PLUGIN=$plugin SF_PJRT_SITE=$site SF_CUDA_DATA_DIR=$data SF_PTXAS=$ptxas
  return 0
}

# Executed rather than sourced: print the exports.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  sf_pjrt_env "$@" || exit 1
  for v in PJRT_PLUGIN_LIBRARY_PATH XLA_FLAGS LD_LIBRARY_PATH PATH SF_PJRT_PLUGIN SF_PJRT_SITE SF_CUDA_DATA_DIR SF_PTXAS; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
  echo "export GOMLX_BACKEND=xla:cuda"
else
  sf_pjrt_env "$@"
fi
