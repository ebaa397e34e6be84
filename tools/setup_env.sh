#!/usr/bin/env bash
# Create (or reuse) the isolated environment mmghost runs in, and install the pinned
# OpenMMLab stack plus `pip install -e .` into it.
#
#   bash tools/setup_env.sh            # prints the environment's python on the last line
#
# Environment variables:
#   MMGHOST_VENV        where the virtualenv lives          (default: <repo>/.venv)
#   MMGHOST_WHEELHOUSE  where the built mmcv wheel is kept  (default: ~/.cache/mmghost/wheels)
#   MMGHOST_PYTHON      interpreter used to create the venv (default: python3.11, else python3)
#
# A second run finds the stamp written at the end of a successful install and returns in
# seconds. The mmcv 2.1.0 wheel (compiled from its sdist, ~7 min on 2 cores) is kept in the
# wheelhouse so a fresh clone on the same machine does not compile it again.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMGHOST_VENV:-$REPO/.venv}"
WHEELHOUSE="${MMGHOST_WHEELHOUSE:-$HOME/.cache/mmghost/wheels}"
log() { echo "[setup_env] $*" >&2; }
# Everything goes to stderr; stdout carries only the environment's python (last line).
exec 3>&1 1>&2

if [[ -n "${MMGHOST_PYTHON:-}" ]]; then
  BASE_PY="$MMGHOST_PYTHON"
elif command -v python3.11 >/dev/null 2>&1; then
  BASE_PY=python3.11
else
  BASE_PY=python3
fi

# CUDA ops are compiled only when a GPU is visible and nvcc exists; otherwise CPU ops.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 \
    && command -v nvcc >/dev/null 2>&1; then
  MMCV_FLAVOUR=cuda
else
  MMCV_FLAVOUR=cpu
fi

STAMP_INPUT="$(cat "$REPO"/requirements/*.txt "$REPO/setup.py" "$REPO/mmghost-mim.pth" "${BASH_SOURCE[0]}"; echo "$REPO $MMCV_FLAVOUR")"
STAMP="$(printf '%s' "$STAMP_INPUT" | sha256sum | cut -d' ' -f1)"
STAMP_FILE="$VENV/.mmghost-setup-stamp"

if [[ -x "$VENV/bin/python" && -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP" ]]; then
  if "$VENV/bin/python" -c "import mmghost, mmcv.ops, mmdet, mmpretrain" >/dev/null 2>&1; then
    log "environment up to date: $VENV"
    echo "$VENV/bin/python" >&3
    exit 0
  fi
  log "stamp matches but imports fail; repairing"
fi

start=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtualenv $VENV with $BASE_PY"
  "$BASE_PY" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
rm -f "$STAMP_FILE"

log "build tools"
"${PIP[@]}" install -q -r "$REPO/requirements/build.txt"

log "torch + torchvision (registry build)"
"${PIP[@]}" install -q -r "$REPO/requirements/torch.txt"
"$PY" - <<'EOF'
import torch, torchvision, torchvision.ops  # noqa: F401  (fails on the +cpu build)
assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__
assert not torch.__version__.endswith('+cpu'), 'the local +cpu torch build cannot run torchvision ops'
EOF

# Everything installed after torch must keep it: constrain to the installed versions.
CONSTRAINTS="$VENV/.mmghost-constraints.txt"
{ grep -v '^#' "$REPO/requirements/torch.txt"; grep '^setuptools' "$REPO/requirements/build.txt"; } \
  > "$CONSTRAINTS"

MMCV_VERSION=2.1.0
mkdir -p "$WHEELHOUSE/$MMCV_FLAVOUR"
TORCH_TAG="$("$PY" -c 'import torch; print(torch.__version__.replace("+", "_"))')"
WHEEL_DIR="$WHEELHOUSE/$MMCV_FLAVOUR/torch-$TORCH_TAG"
mkdir -p "$WHEEL_DIR"
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1; then
  if ! ls "$WHEEL_DIR"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
    log "compiling mmcv $MMCV_VERSION with $MMCV_FLAVOUR ops (several minutes, done once per machine)"
    build_env=(MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}")
    [[ $MMCV_FLAVOUR == cuda ]] && build_env+=(FORCE_CUDA=1)
    env "${build_env[@]}" "${PIP[@]}" wheel -q --no-deps --no-build-isolation \
      --no-binary mmcv -w "$WHEEL_DIR.partial" "mmcv==$MMCV_VERSION"
    mv "$WHEEL_DIR".partial/mmcv-*.whl "$WHEEL_DIR"/
    rmdir "$WHEEL_DIR.partial" 2>/dev/null || true
  fi
  "${PIP[@]}" install -q -c "$CONSTRAINTS" "$WHEEL_DIR"/mmcv-$MMCV_VERSION-*.whl
fi

log "OpenMMLab packages, runtime and test requirements"
"${PIP[@]}" install -q -c "$CONSTRAINTS" -r "$REPO/requirements/mminstall.txt" \
  -r "$REPO/requirements/runtime.txt" -r "$REPO/requirements/tests.txt" \
  -r "$REPO/requirements/optional.txt"

log "mmghost (editable)"
# Legacy `setup.py develop` (egg-link): mmengine finds `mmghost::` configs through the
# distribution's location, which must be this checkout (see requirements/build.txt).
"${PIP[@]}" install -q -c "$CONSTRAINTS" --no-deps --no-build-isolation --no-use-pep517 \
  -e "$REPO"

# Editable installs do not run build_py: put the `mmghost::` config hook in place by hand.
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cp "$REPO/mmghost-mim.pth" "$SITE/mmghost-mim.pth"
log "installed $SITE/mmghost-mim.pth: it imports mmghost at interpreter start, so that" \
    "mmdet's/mmpretrain's tools resolve 'mmghost::' config bases (the changes mmghost makes:" \
    "mmghost/library_changes.py). MMGHOST_NO_HOOKS=1 turns it off; delete the file to remove it."

# Checked from outside the checkout, as a user's config would be.
(cd / && "$PY" -W ignore - <<'EOF'
import mmcv, mmcv.ops, mmdet, mmengine, mmpretrain, mmghost, torch
from mmengine.config.utils import _get_cfg_metainfo  # noqa: F401
from mmengine.utils import get_installed_path
import os
mim = os.path.join(get_installed_path('mmghost'), '.mim', 'configs')
assert os.path.isdir(mim), f'mmghost::configs not resolvable, {mim} missing'
print(f'[setup_env] torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, '
      f'mmdet {mmdet.__version__}, mmpretrain {mmpretrain.__version__}, mmghost {mmghost.__version__}',
      flush=True)
EOF
)
echo "$STAMP" > "$STAMP_FILE"
log "done in $(( $(date +%s) - start )) s"
echo "$PY" >&3
