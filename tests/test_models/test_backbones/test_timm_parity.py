"""Same weights, same outputs as timm's implementations of the family.

timm's GhostNet / GhostNetV2 / GhostNetV3 / RepGhostNet use the reference key names; our
backbones keep them too (timm names the BN of V3's re-param branches ``bn1``), so a timm
state_dict loads into ours with at most that rename. Random weights and BN statistics.
"""
import pytest
import torch

from helpers import assert_close_rel, randomize_bn
from mmghost import switch_to_deploy
from mmghost.models import GhostNet, GhostNetV2, GhostNetV3, RepGhostNet

timm = pytest.importorskip('timm')

CASES = [('ghostnet_100', GhostNet, 1.0), ('ghostnet_050', GhostNet, 0.5),
         ('ghostnetv2_100', GhostNetV2, 1.0), ('ghostnetv2_130', GhostNetV2, 1.3),
         ('ghostnetv3_100', GhostNetV3, 1.0), ('ghostnetv3_050', GhostNetV3, 0.5),
         ('repghostnet_100', RepGhostNet, 1.0), ('repghostnet_058', RepGhostNet, 0.58)]


def timm_to_mmghost(state_dict):
    out = {}
    for k, v in state_dict.items():
        if k.startswith(('conv_head', 'classifier')) or 'total_' in k:
            continue
        if '_rpr_' in k:
            k = k.replace('.bn1.', '.bn.')
        out[k] = v
    return out


@pytest.mark.parametrize('timm_name,cls,width', CASES)
def test_same_features_as_timm(timm_name, cls, width):
    ref = randomize_bn(timm.create_model(timm_name, pretrained=False)).eval()
    ours = cls(widen_factor=width).eval()
    missing, unexpected = ours.load_state_dict(timm_to_mmghost(ref.state_dict()), strict=True)
    x = torch.randn(2, 3, 97, 131)
    with torch.no_grad():
        expected = ref.forward_features(x)
        got = ours(x)[-1]
        assert_close_rel(got, expected, 1e-5, timm_name)
        if cls in (GhostNetV3, RepGhostNet):
            switch_to_deploy(ours)
            ref.convert_to_deploy() if hasattr(ref, 'convert_to_deploy') else None
            assert_close_rel(ours(x)[-1], ref.forward_features(x), 1e-4, timm_name + ' deploy')
            assert ours.state_dict().keys() == timm_to_mmghost(ref.state_dict()).keys()
