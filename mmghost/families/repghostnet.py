"""RepGhostNet: feature reuse by a re-parameterizable identity branch instead of concat."""
from .descriptor import Arch, Family, Release

__all__ = ['REPGHOSTNET', 'REPGHOST_ARCH']

#: GhostNet's table with the mids halved (no concatenation); the last expansion doubles.
REPGHOST_ARCH = Arch(
    blocks=(
        ((3, 8, 16, 0, 1), ),
        ((3, 24, 24, 0, 2), ),
        ((3, 36, 24, 0, 1), ),
        ((5, 36, 40, 0.25, 2), ),
        ((5, 60, 40, 0.25, 1), ),
        ((3, 120, 80, 0, 2), ),
        ((3, 100, 80, 0, 1), (3, 120, 80, 0, 1), (3, 120, 80, 0, 1), (3, 240, 112, 0.25, 1),
         (3, 336, 112, 0.25, 1)),
        ((5, 336, 160, 0.25, 2), ),
        ((5, 480, 160, 0, 1), (5, 480, 160, 0.25, 1), (5, 480, 160, 0, 1),
         (5, 480, 160, 0.25, 1)),
    ),
    final_expand=2)

_RG = 'https://github.com/ChengpengChen/RepGhost/releases/download/RepGhost'
_TIMM_HUB = 'https://huggingface.co/timm/{}/resolve/main/model.safetensors'
# width, release file tag, timm tag, README top-1 / top-5, timm's top-1 / top-5
_RELEASES = (
    (0.5, '0_5x_43M_66.95', '050', 66.9, 86.9, 66.978, 86.936),
    (0.58, '0_58x_60M_68.94', '058', 68.9, 88.4, 68.938, 88.386),
    (0.8, '0_8x_96M_72.24', '080', 72.2, 90.5, 72.240, 90.492),
    (1.0, '1_0x_142M_74.22', '100', 74.2, 91.5, 74.208, 91.550),
    (1.11, '1_11x_170M_75.07', '111', 75.1, 92.2, 75.060, 92.196),
    (1.3, '1_3x_231M_76.37', '130', 76.4, 92.9, 76.378, 92.898),
    (1.5, '1_5x_301M_77.45', '150', 77.5, 93.5, 77.474, 93.496),
    (2.0, '2_0x_516M_78.81', '200', 78.8, 94.3, 78.802, 94.332),
)

REPGHOSTNET = Family(
    key='repghostnet',
    backbone='RepGhostNet',
    title='RepGhost: A Hardware-Efficient Ghost Module via Re-parameterization',
    paper='https://arxiv.org/abs/2211.06088',
    venue='arXiv 2022',
    code='https://github.com/ChengpengChen/RepGhost',
    archs={'imagenet': REPGHOST_ARCH},
    default_arch='imagenet',
    widths=tuple(r[0] for r in _RELEASES),
    reparam=True,
    # ``fusion_bn`` is the training form's identity branch; the fused cheap op is a bare conv.
    key_markers=(('train', r'\.fusion_bn\.'), ('deploy', r'\.ghost\d\.cheap_operation\.weight$')),
    detect_rank=1,
    timm_stem='repghostnet',
    config_dir='repghostnet',
    config_name='repghostnet-{w}x_8xb128-300e_in1k.py',
    deploy_config_name='repghostnet-{w}x_deploy_in1k.py',
    base_config='repghostnet.py',
    reported_top1={
        w: (top1, 'RepGhost README' if w in (0.8, 2.0) else 'RepGhost paper, Table 3')
        for w, _, _, top1, _, _, _ in _RELEASES
    },
    releases=tuple(
        Release(f'repghostnet-{w!r}x_3rdparty_in1k', w, f'{_RG}/repghostnet_{tag}.pth.tar',
                'official', f'repghostnet_{tag}.pth.tar', top1=top1, top5=top5,
                reported_by='RepGhost README')
        for w, tag, _, top1, top5, _, _ in _RELEASES) + tuple(
        Release(f'repghostnet-{w!r}x_3rdparty-timm_in1k', w,
                _TIMM_HUB.format(f'repghostnet_{t}.in1k'), 'timm', f'repghostnet_{t}.in1k',
                top1=top1, top5=top5, reported_by='timm results-imagenet.csv')
        for w, _, t, _, _, top1, top5 in _RELEASES),
)
