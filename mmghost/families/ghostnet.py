"""GhostNet (V1) and GhostNetV2: one stage table, V2 adds DFC attention to ghost1."""
from .descriptor import Arch, Family, Release

__all__ = ['GHOSTNET', 'GHOSTNETV2', 'GHOSTNET_ARCH']

#: Per stage (``blocks.i``), one row per bottleneck: kernel, mid (expanded), out, SE ratio,
#: stride (GhostNet paper, Table 1).
GHOSTNET_ARCH = Arch(blocks=(
    ((3, 16, 16, 0, 1), ),
    ((3, 48, 24, 0, 2), ),
    ((3, 72, 24, 0, 1), ),
    ((5, 72, 40, 0.25, 2), ),
    ((5, 120, 40, 0.25, 1), ),
    ((3, 240, 80, 0, 2), ),
    ((3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 0.25, 1),
     (3, 672, 112, 0.25, 1)),
    ((5, 672, 160, 0.25, 2), ),
    ((5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1), (5, 960, 160, 0, 1),
     (5, 960, 160, 0.25, 1)),
))

_TIMM_HUB = 'https://huggingface.co/timm/{}/resolve/main/model.safetensors'
_TIMM_CSV = 'timm results-imagenet.csv'
_EAB = 'https://github.com/huawei-noah/Efficient-AI-Backbones'

GHOSTNET = Family(
    key='ghostnet',
    backbone='GhostNet',
    title='GhostNet: More Features from Cheap Operations',
    paper='https://arxiv.org/abs/1911.11907',
    venue='CVPR 2020',
    code=f'{_EAB}/tree/master/ghostnet_pytorch',
    archs={'imagenet': GHOSTNET_ARCH},
    default_arch='imagenet',
    widths=(0.5, 1.0, 1.3, 1.6),
    key_markers=(('train', r'\.ghost\d\.primary_conv\.0\.weight$'), ),
    detect_rank=4,
    timm_stem='ghostnet',
    timm_version='v1',
    config_dir='ghostnet',
    config_name='ghostnet-{w}x_8xb128-400e_in1k.py',
    base_config='ghostnet.py',
    reported_top1={
        0.5: (66.2, 'GhostNet paper, Table 7'),
        1.0: (73.9, 'GhostNet paper, Table 7'),
        1.3: (75.7, 'GhostNet paper, Table 7'),
    },
    releases=(
        Release('ghostnet-1.0x_3rdparty_in1k', 1.0,
                'https://github.com/huawei-noah/ghostnet/raw/master/ghostnet_pytorch/models/'
                'state_dict_73.98.pth',
                'official', 'state_dict_73.98.pth', top1=73.98, top5=91.46,
                reported_by='Efficient-AI-Backbones ghostnet_pytorch/README.md'),
        Release('ghostnet-1.0x_3rdparty-timm_in1k', 1.0, _TIMM_HUB.format('ghostnet_100.in1k'),
                'timm', 'ghostnet_100.in1k', top1=73.958, top5=91.542, reported_by=_TIMM_CSV),
    ),
)

GHOSTNETV2 = Family(
    key='ghostnetv2',
    backbone='GhostNetV2',
    title='GhostNetV2: Enhance Cheap Operation with Long-Range Attention',
    paper='https://arxiv.org/abs/2211.12905',
    venue='NeurIPS 2022',
    code=f'{_EAB}/tree/master/ghostnetv2_pytorch',
    archs={'imagenet': GHOSTNET_ARCH},
    default_arch='imagenet',
    widths=(0.5, 1.0, 1.3, 1.6),
    dfc_from_layer=2,
    key_markers=(('train', r'\.ghost\d\.short_conv\.'), ),
    detect_rank=3,
    timm_stem='ghostnetv2',
    timm_version='v2',
    config_dir='ghostnetv2',
    config_name='ghostnetv2-{w}x_8xb128-450e_in1k.py',
    base_config='ghostnetv2.py',
    reported_top1={
        1.0: (75.3, 'GhostNetV2 paper (GhostNetV3 paper, Table 9)'),
        1.3: (76.9, 'GhostNetV3 paper, Table 9'),
        1.6: (77.8, 'GhostNetV3 paper, Table 9'),
    },
    releases=tuple(
        Release(f'ghostnetv2-{w!r}x_3rdparty_in1k', w,
                f'{_EAB}/releases/download/GhostNetV2/ck_ghostnetv2_{tag}.pth.tar', 'official',
                f'ck_ghostnetv2_{tag}.pth.tar', top1=top1, reported_by=source)
        for w, tag, top1, source in ((1.0, '10', 75.3, 'GhostNetV2 README'),
                                     (1.3, '13', 76.9, 'GhostNetV3 paper, Table 9'),
                                     (1.6, '16', 77.8, 'GhostNetV3 paper, Table 9'))) +
    tuple(
        Release(f'ghostnetv2-{w!r}x_3rdparty-timm_in1k', w,
                _TIMM_HUB.format(f'ghostnetv2_{tag}.in1k'), 'timm', f'ghostnetv2_{tag}.in1k',
                top1=top1, top5=top5, reported_by=_TIMM_CSV)
        for w, tag, top1, top5 in ((1.0, '100', 75.186, 92.334), (1.3, '130', 76.746, 93.364),
                                   (1.6, '160', 77.836, 93.948))),
)
