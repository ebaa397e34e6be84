"""Every change mmghost makes to another library, in one list: what changes, why, when, and
the test that fails without it.

Two kinds:

* **at import** of the library's module (:data:`AT_IMPORT`): scheduled by :func:`install`,
  which ``import mmghost`` calls and which the ``mmghost-mim.pth`` file that the set-up puts
  in site-packages calls at interpreter start (unless ``MMGHOST_NO_HOOKS=1``). Each step runs
  at once if its module is already imported, otherwise right after that module is first
  imported, and imports nothing heavy before then. The interpreter-start file is there for
  the first change: mmdet's and mmpretrain's own tools read a config (and its
  ``_base_ = 'mmghost::...'``) before anything imports mmghost.
* **on use** (:data:`ON_USE`): made by the mmghost object that needs it, when it is built or
  imported, never by ``import mmghost``.

Registering mmghost's classes is not a change to another library: they go into mmghost's own
registries (children of mmengine's root registries, scope ``mmghost``,
:mod:`mmghost.registry`).
"""
from dataclasses import dataclass
from typing import Optional, Tuple

from ._import_hooks import after_import

__all__ = ['LibraryChange', 'AT_IMPORT', 'ON_USE', 'CHANGES', 'NO_HOOKS_ENV', 'install']

#: ``MMGHOST_NO_HOOKS=1`` turns the interpreter-start file (``mmghost-mim.pth``) off: it then
#: imports nothing, and the at-import changes wait for ``import mmghost``.
NO_HOOKS_ENV = 'MMGHOST_NO_HOOKS'


@dataclass(frozen=True)
class LibraryChange:
    """One change to another library.

    Args:
        target: What is changed (a module attribute, a class, a registry of the library).
        change: What mmghost does to it.
        reason: What a user could not do without it.
        test: The test (``path::name``) that fails without it.
        module: At import: the library module whose import applies it.
        apply: At import: the function applying it (``fn(module)``, idempotent). On use: the
            mmghost function or class that makes the change, as ``'module:name'``.
    """
    target: str
    change: str
    reason: str
    test: str
    module: Optional[str] = None
    apply: object = None


def _config_prefix(module) -> None:
    table = getattr(module, 'MODULE2PACKAGE', None)
    if isinstance(table, dict):
        table.setdefault('mmghost', 'mmghost')


def _safe_globals(module) -> None:
    from mmghost.checkpoint.safe_load import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()


def _checkpoint_schemes(module) -> None:
    from mmghost.checkpoint.hub import register_loaders
    register_loaders(module.CheckpointLoader)


def _model_index(module) -> None:
    from mmghost.checkpoint.hub import register_model_index
    register_model_index(module.ModelHub)


def _ssd_head_loss_cls(module) -> None:
    head = getattr(module, 'SSDHead', None)
    if head is not None and not hasattr(head, 'loss_cls'):
        head.loss_cls = None  # read by BaseDenseHead only for custom_cls_channels


AT_IMPORT: Tuple[LibraryChange, ...] = (
    LibraryChange(
        target='mmengine.config.utils.MODULE2PACKAGE',
        change="adds 'mmghost': 'mmghost'",
        reason="`_base_ = 'mmghost::...'` resolves: mmengine 0.10.7 knows only the packages "
               'of its hard-coded table, and mmdet\'s / mmpretrain\'s tools read the config '
               'before anything imports mmghost (hence the interpreter-start file)',
        test='tests/test_configs/test_configs.py::test_mim_inheritance_from_user_config',
        module='mmengine.config.utils', apply=_config_prefix),
    LibraryChange(
        target="torch.serialization's safe globals",
        change="adds the classes mmengine's checkpoints pickle (message hub, history "
               'buffers, numpy scalars and dtypes: '
               '`mmghost.checkpoint.safe_load.mmengine_safe_globals`)',
        reason="torch >= 2.6 loads with weights_only=True and refuses mmengine's own "
               'checkpoints (resume, tools/test.py) without them; nothing else is allowed',
        test='tests/test_checkpoint/test_safe_load.py::test_message_hub_checkpoint_loads',
        module='mmengine.runner.checkpoint', apply=_safe_globals),
    LibraryChange(
        target='mmengine.runner.checkpoint.CheckpointLoader',
        change='registers the `mmghost://NAME` scheme, and routes the URLs of published '
               'GhostNet files to the converting loader (other URLs keep mmengine\'s)',
        reason='`load_from`, `init_cfg` and `tools/test.py` take a published GhostNet by name '
               'or by its URL, converted to mmghost\'s keys on the fly',
        test='tests/test_checkpoint/test_hub.py::'
             'test_name_and_url_load_converted_and_the_second_load_is_cached',
        module='mmengine.runner.checkpoint', apply=_checkpoint_schemes),
    LibraryChange(
        target='mmpretrain.apis.model.ModelHub',
        change="registers mmghost's model-index.yml (its entries load as mmghost://NAME)",
        reason='`mmpretrain.get_model`, `list_models` and the inferencers know the published '
               'GhostNets by name',
        test='tests/test_checkpoint/test_hub.py::'
             'test_mmpretrain_knows_the_published_models_by_name',
        module='mmpretrain.apis.model', apply=_model_index),
    LibraryChange(
        target='mmdet.models.dense_heads.ssd_head.SSDHead',
        change='gives the class a `loss_cls = None` attribute (only where it has none)',
        reason="mmdet 3.3.0's BaseDenseHead._predict_by_feat_single reads self.loss_cls, "
               'which SSDHead (its loss is written into the head) never sets: every SSD and '
               "SSDLite, mmdet's own SSDLite-MobileNetV2 included, fails to predict",
        test='tests/test_configs/test_detection_configs.py::test_mmdets_own_ssdlite_predicts',
        module='mmdet.models.dense_heads.ssd_head', apply=_ssd_head_loss_cls),
)

ON_USE: Tuple[LibraryChange, ...] = (
    LibraryChange(
        target='mmcv.ops.nms.NMSop.forward, mmcv.ops.roi_align.roi_align',
        change='cast low-precision CPU inputs to float32 (CUDA inputs untouched), when a '
               '`CPUAmpOptimWrapper` (`--amp` on CPU) is built',
        reason="mmcv's CPU kernels are float32-only: two-stage detectors stop under CPU "
               'bf16 autocast without it',
        test='tests/test_engine/test_amp.py::test_detector_trains_under_cpu_bf16_autocast',
        apply='mmghost.engine.optim_wrapper:enable_cpu_autocast_for_mmcv_ops'),
    LibraryChange(
        target="mmengine.fileio's backends",
        change="registers the 'mmghost_atomic_local' backend, when mmghost.engine is imported",
        reason='checkpoints written atomically (temporary file + rename): a killed run '
               'leaves no partial checkpoint to resume from',
        test='tests/test_engine/test_crash_safety.py::'
             'test_atomic_backend_never_leaves_a_partial_file',
        apply='mmghost.engine.crash_safety:AtomicLocalBackend'),
)

CHANGES = AT_IMPORT + ON_USE
_installed = False


def install() -> None:
    """Schedule every :data:`AT_IMPORT` change (idempotent; imports nothing heavy)."""
    global _installed
    if _installed:
        return
    _installed = True
    for c in AT_IMPORT:
        after_import(c.module, c.apply)
