"""Re-parameterize a trained checkpoint into its deploy (fused) form, and verify it.

    python tools/model_converters/reparameterize.py CONFIG CHECKPOINT OUT
        [--deploy-config PATH] [--shape H [W]] [--rtol 1e-4] [--cfg-options k=v ...]

Works for mmpretrain classifiers and mmdet detectors alike (the config decides). Steps:

1. build the config's model (in its ``default_scope``, ``backbone.init_cfg=None``: nothing is
   fetched) and load CHECKPOINT strictly;
2. ``mmghost.switch_to_deploy`` a copy and save ``{'meta', 'state_dict'}`` (no optimizer or
   message hub) to OUT, atomically (a temporary file renamed into place);
3. build the deploy model (``--deploy-config``, else the config with ``deploy=True`` on every
   re-parameterizable backbone, i.e. ``--cfg-options model.backbone.deploy=True``), load OUT
   strictly into it, and compare it with the training-form model on a seeded random
   (already normalized) batch in eval mode: classifier logits, detector raw head outputs
   (``mode='tensor'``). The largest relative difference is printed; above ``--rtol`` OUT is
   removed and the tool exits non-zero.

Refused with a message and a non-zero exit, nothing written: a checkpoint that is already in
deploy form, a model with nothing to re-parameterize (GhostNet V1/V2), a checkpoint that does
not match the config. Test the result with ``tools/test.py DEPLOY_CONFIG OUT`` (or
``tools/test.py CONFIG OUT --cfg-options model.backbone.deploy=True``).
"""
import argparse
import copy
import os
import os.path as osp
import sys

import torch
from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='training-form config of the checkpoint')
    parser.add_argument('checkpoint', help='training-form checkpoint')
    parser.add_argument('out', help='where to write the re-parameterized checkpoint')
    parser.add_argument('--deploy-config', default=None,
                        help='config that builds the deploy form (default: CONFIG with '
                        'deploy=True on every re-parameterizable backbone)')
    parser.add_argument('--shape', type=int, nargs='+', default=[224],
                        help='H [W] of the random verification input (default 224)')
    parser.add_argument('--batch-size', type=int, default=2,
                        help='batch size of the verification input (default 2)')
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest accepted max|fused - original| / max|original|')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of both configs, key=value pairs')
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2) or min(args.shape) < 1:
        parser.error(f'--shape takes H or H W (positive), got {args.shape}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    return args


def _log(msg: str) -> None:
    print(f'[reparameterize] {msg}', flush=True)


def reparameterize(config: str, checkpoint: str, out: str, deploy_config=None,
                   shape=(224, 224), batch_size: int = 2, rtol: float = 1e-4,
                   cfg_options=None) -> float:
    """Fuse ``checkpoint`` into ``out`` and verify it against the training form.

    Args:
        config (str): Training-form config.
        checkpoint (str): Training-form checkpoint of ``config``.
        out (str): Output path of the deploy checkpoint.
        deploy_config (str, optional): Deploy-form config; by default ``config`` with
            ``deploy=True`` on every re-parameterizable part (:func:`make_deploy_config`).
        shape (tuple[int, int]): H, W of the random verification batch.
        batch_size (int): Size of the verification batch.
        rtol (float): Largest accepted relative output difference.
        cfg_options (dict, optional): Overrides merged into both configs.

    Returns:
        float: The largest relative difference between the two models' outputs.

    Raises:
        SystemExit: With a message, when the checkpoint or model cannot be re-parameterized
            or the verification fails (``out`` is then not left behind).
    """
    from mmghost import switch_to_deploy
    from mmghost.models.layers.reparam import is_deployed
    from mmghost.utils.checkpoint import save_atomic
    from mmghost.utils.deploy import (CheckpointFormError, build_model, load_config,
                                      load_deploy_form, load_weights, make_deploy_config,
                                      max_relative_difference, normalized_input,
                                      pending_reparam_modules, reparameterizable_parts,
                                      tensor_outputs)

    cfg = load_config(config, cfg_options)
    model = build_model(cfg)
    name = type(getattr(model, 'backbone', model)).__name__
    if not pending_reparam_modules(model):
        if reparameterizable_parts(cfg):
            raise SystemExit(f'{config} already builds the deploy form of {name} '
                             f'(deploy=True): pass the training-form config; nothing written')
        raise SystemExit(f'{name} has nothing to re-parameterize (no re-parameterizable '
                         f'blocks): {checkpoint} already is its inference form; nothing '
                         f'written')
    try:
        ckpt = load_weights(model, checkpoint)
    except FileNotFoundError as e:
        raise SystemExit(f'{e}; nothing written')
    except CheckpointFormError as e:
        if e.deploy_form or load_deploy_form(cfg, checkpoint) is not None:
            raise SystemExit(f'{checkpoint} is already in deploy (re-parameterized) form: '
                             f'nothing to do (test it with the deploy config); nothing '
                             f'written')
        raise SystemExit(f'{e}\nnothing written')
    model.eval()
    fused = switch_to_deploy(copy.deepcopy(model))
    if not is_deployed(fused) or pending_reparam_modules(fused):  # pragma: no cover
        raise SystemExit(f'switch_to_deploy left blocks unfused: '
                         f'{pending_reparam_modules(fused)}')
    n_train = sum(p.numel() for p in model.parameters())
    n_deploy = sum(p.numel() for p in fused.parameters())
    meta = dict(ckpt.get('meta', None) or {})
    meta['reparameterized'] = dict(source=osp.basename(checkpoint), tool='mmghost.reparameterize')
    state_dict = {k: v.detach().cpu() for k, v in fused.state_dict().items()}
    save_atomic(dict(meta=meta, state_dict=state_dict), out)
    del fused

    try:
        if deploy_config is not None:
            dcfg = load_config(deploy_config, cfg_options)
            dname = deploy_config
        else:
            dcfg, changed = make_deploy_config(cfg)
            dname = f'{config} with {", ".join(k + "=True" for k in changed)}'
        deployed = build_model(dcfg)
        if pending_reparam_modules(deployed):
            raise SystemExit(f'the deploy config {dname} builds blocks in training form: '
                             f'{pending_reparam_modules(deployed)[:3]}')
        try:
            load_weights(deployed, out)
        except CheckpointFormError as e:
            raise SystemExit(f'the fused checkpoint does not load into the deploy config '
                             f'{dname}: {e}')
        deployed.eval()
        x = normalized_input(tuple(shape), batch_size)
        with torch.no_grad():
            diff = max_relative_difference(tensor_outputs(model, x), tensor_outputs(deployed, x))
    except BaseException:
        if osp.exists(out):
            os.remove(out)
        raise
    _log(f'{name}: params {n_train:,} -> {n_deploy:,}; deploy config {dname}')
    _log(f'max relative difference of the outputs (fused vs original, input '
         f'{batch_size}x3x{shape[0]}x{shape[1]}): {diff:.3e} (rtol {rtol:g})')
    if not diff <= rtol:
        os.remove(out)
        raise SystemExit(f'FAILED: the fused model differs from the original by {diff:.3e} '
                         f'> {rtol:g}; {out} removed')
    _log(f'saved {out}')
    return diff


def main(argv=None):
    args = parse_args(argv)
    from mmghost.utils import setup_runtime
    setup_runtime()
    shape = (args.shape[0], args.shape[-1])
    try:
        reparameterize(args.config, args.checkpoint, args.out, args.deploy_config, shape,
                       args.batch_size, args.rtol, args.cfg_options)
    except SystemExit as e:
        if isinstance(e.code, str):
            print(f'[reparameterize] error: {e.code}', file=sys.stderr)
            raise SystemExit(1)
        raise


if __name__ == '__main__':
    main()
