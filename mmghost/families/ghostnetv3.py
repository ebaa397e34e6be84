"""GhostNetV3: GhostNetV2's topology trained with re-parameterizable branches."""
from .descriptor import Arch, Family, Release
from .ghostnet import GHOSTNET_ARCH

__all__ = ['GHOSTNETV3', 'GHOSTNETV3_SMALL', 'GHOSTNETV3_SMALL_ARCH']

_EAB = 'https://github.com/huawei-noah/Efficient-AI-Backbones'
_T9 = 'GhostNetV3 paper, Table 9'

#: The training form's branches (``_rpr_``); the deploy form's fused primary conv has a bias.
_V3_MARKERS = (('train', r'_rpr_(conv|scale|skip)\.'),
               ('deploy', r'\.ghost\d\.primary_conv\.0\.bias$'))

GHOSTNETV3 = Family(
    key='ghostnetv3',
    backbone='GhostNetV3',
    title='GhostNetV3: Exploring the Training Strategies for Compact Models',
    paper='https://arxiv.org/abs/2404.11202',
    venue='arXiv 2024',
    code=f'{_EAB}/tree/master/ghostnetv3_pytorch',
    archs={'imagenet': GHOSTNET_ARCH},
    default_arch='imagenet',
    widths=(0.5, 1.0, 1.3, 1.6),
    reparam=True,
    dfc_from_layer=2,
    key_markers=_V3_MARKERS,
    detect_rank=0,
    timm_stem='ghostnetv3',
    timm_version='v3',
    # timm's ConvBnAct names the BN of the re-parameterization branches ``bn1``.
    timm_key_renames=((r'(_rpr_conv\.\d+|_rpr_scale)\.bn1\.', r'\1.bn.'), ),
    config_dir='ghostnetv3',
    config_name='ghostnetv3-{w}x_8xb256-lamb-600e_in1k.py',
    deploy_config_name='ghostnetv3-{w}x_deploy_in1k.py',
    base_config='ghostnetv3.py',
    reported_top1={
        0.5: (69.4, _T9 + '; its 0.5x params/FLOPs do not match the code'),
        1.0: (77.1, _T9 + ', EMA weights'),
        1.3: (79.1, _T9 + ' and abstract'),
        1.6: (80.4, _T9),
    },
    releases=(
        Release('ghostnetv3-1.0x_3rdparty_in1k', 1.0,
                f'{_EAB}/releases/download/GhostNetV3/ghostnetv3-1.0.pth.tar', 'official',
                'ghostnetv3-1.0.pth.tar', top1=77.1, reported_by=_T9 + ' (the EMA weights)',
                weights_copy='state_dict_ema'),
        Release('ghostnetv3-1.0x_3rdparty-timm_in1k', 1.0,
                'https://huggingface.co/timm/ghostnetv3_100.in1k/resolve/main/model.safetensors',
                'timm', 'ghostnetv3_100.in1k', top1=76.936, top5=93.124,
                reported_by='timm results-imagenet.csv (the non-EMA weights)'),
    ),
)

#: GhostNetV3-Small for 32x32 inputs: stem stride 1, 10 bottlenecks, output stride 4.
GHOSTNETV3_SMALL_ARCH = Arch(blocks=(
    ((3, 16, 16, 0, 1), ),
    ((3, 32, 20, 0, 2), ),
    ((3, 40, 20, 0, 1), ),
    ((3, 48, 32, 0.25, 1), ),
    ((3, 64, 32, 0.25, 1), ),
    ((3, 80, 48, 0, 2), (3, 96, 48, 0, 1), (3, 120, 64, 0.25, 1)),
    ((3, 128, 80, 0.25, 1), (3, 160, 80, 0.25, 1)),
))

GHOSTNETV3_SMALL = Family(
    key='ghostnetv3_small',
    backbone='GhostNetV3Small',
    title='GhostNetV3-Small: A Tailored Architecture and Comparative Study of Distillation '
    'Strategies for Tiny Images',
    paper='https://arxiv.org/abs/2509.12380',
    venue='arXiv 2025',
    code='https://github.com/FlorianREGAZ/PML',
    archs={'cifar': GHOSTNETV3_SMALL_ARCH},
    default_arch='cifar',
    widths=(1.0, 1.3, 1.6, 1.9, 2.2, 2.8, 3.4),
    default_width=2.8,
    reparam=True,
    dfc_from_layer=2,
    stem_stride=1,
    input_size=32,
    num_classes=10,
    dataset='CIFAR-10',
    key_markers=_V3_MARKERS,
    detect_rank=0,
    config_dir='ghostnetv3_small',
    config_name='ghostnetv3-small-{w}x_1xb256-200e_cifar10.py',
    base_config='ghostnetv3_small.py',
)
