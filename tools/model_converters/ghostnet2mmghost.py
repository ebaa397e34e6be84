"""Convert a published GhostNet / GhostNetV2 / GhostNetV3 / RepGhostNet checkpoint to mmghost.

    python tools/model_converters/ghostnet2mmghost.py SRC DST [--family F] [--width W]
        [--ema | --no-ema] [--backbone-only] [--deploy] [--verify | --no-verify]

SRC: the official files (``state_dict_73.98.pth``, ``ck_ghostnetv2_10.pth.tar``,
``ghostnetv3-1.0.pth.tar``, ``repghostnet_1_0x_142M_74.22.pth.tar``, their deploy-form
state_dicts) or timm's state_dicts of ``ghostnet*``/``ghostnetv2*``/``ghostnetv3*``/
``repghostnet*`` (``.pth`` or ``.safetensors``). Family, width and form (training or
re-parameterized) are detected from the key names and shapes.

DST: ``{'meta': ..., 'state_dict': ...}``, an mmpretrain classifier checkpoint that loads
strictly into our classification config of that family and width (``deploy/`` config for a
deploy-form file), e.g. ``python tools/test.py CONFIG DST``. With ``--backbone-only`` only the
``backbone.*`` weights are written; a detector loads either file with
``backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.'))``, as
``configs/detection/*.py`` do.

Nothing is written unless the weights load with ``strict=True`` and (when timm is installed,
unless ``--no-verify``) give timm's logits on a random input. The logic lives in
:mod:`mmghost.checkpoint.convert`.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a GhostNet-family checkpoint (official or timm) to mmghost.')
    parser.add_argument('src', help='source checkpoint (.pth, .pth.tar, .safetensors)')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--family', help='ghostnet, ghostnetv2, ghostnetv3, repghostnet or '
                        'ghostnetv3_small (default: detected; must agree with the file)')
    parser.add_argument('--width', type=float, help='width multiplier (default: detected; '
                        'must agree with the file; needed for unreleased widths)')
    parser.add_argument('--ema', action=argparse.BooleanOptionalAction, default=None,
                        help='take state_dict_ema (--ema) or state_dict (--no-ema) of a '
                        'training wrapper (default: the EMA copy when there is one)')
    parser.add_argument('--backbone-only', action='store_true',
                        help='write only the backbone.* weights')
    parser.add_argument('--deploy', action='store_true',
                        help='write the re-parameterized form (GhostNetV3, RepGhostNet)')
    parser.add_argument('--verify', action=argparse.BooleanOptionalAction, default=None,
                        help='compare logits with timm holding the source weights (default: '
                        'on when timm is installed)')
    parser.add_argument('--verify-size', type=int, nargs=2, default=(224, 224),
                        metavar=('H', 'W'), help='input size of the verification')
    parser.add_argument('--rtol', type=float, default=1e-5,
                        help='largest relative logit difference accepted by --verify')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmghost.checkpoint import ConversionError, convert_checkpoint
    try:
        convert_checkpoint(args.src, args.dst, family=args.family, width=args.width,
                           ema=args.ema, backbone_only=args.backbone_only, deploy=args.deploy,
                           verify=args.verify, verify_shape=tuple(args.verify_size),
                           rtol=args.rtol,
                           log=lambda line: print(f'[ghostnet2mmghost] {line}'))
    except ConversionError as e:
        print(f'[ghostnet2mmghost] error: {e}\n[ghostnet2mmghost] nothing was written',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
