"""mmghost.families: the descriptors agree with the models, configs and key layouts."""
import copy

import pytest
import torch

from helpers import ALL_BACKBONES, REPARAM
from mmghost.families import (FAMILIES, LayoutError, all_releases, detect_layout, detect_width,
                              family_of, get_family, get_release)
from mmghost.models.utils import build_classifier, family_config


def test_one_descriptor_per_backbone_and_lookups():
    assert sorted(f.backbone for f in FAMILIES.values()) == sorted(ALL_BACKBONES)
    assert sorted(f.backbone for f in FAMILIES.values() if f.reparam) == sorted(REPARAM)
    assert get_family('v3') is get_family('mmghost.GhostNetV3') is family_of('GhostNetV3')
    assert get_family('GhostNetV3Small').key == 'ghostnetv3_small'
    with pytest.raises(KeyError, match='unknown family'):
        get_family('resnet')


def test_releases_are_unique_and_have_a_config():
    names = [r.name for r in all_releases()]
    assert len(names) == len(set(names)) == 26
    for fam in FAMILIES.values():
        for r in fam.releases:
            assert get_release(r.name) is r
            assert r.width in fam.widths and r.source in ('official', 'timm'), r.name
            assert r.url.startswith('https://') and r.top1 is not None and r.reported_by
            assert family_config(fam.key, r.width) is not None, r.name
            if fam.reparam:
                assert family_config(fam.key, r.width, deploy=True) is not None, r.name
            if r.source == 'timm':
                assert r.publisher_name == fam.timm_name(r.width) + '.in1k'
                assert r.url.endswith(f'/timm/{r.publisher_name}/resolve/main/model.safetensors')


@pytest.mark.parametrize('key', sorted(FAMILIES))
def test_layout_detection_of_each_form(key):
    fam = FAMILIES[key]
    width = fam.widths[1]
    model = build_classifier(key, width).eval()
    backbone = {k[len('backbone.'):]: v for k, v in model.state_dict().items()
                if k.startswith('backbone.')}
    assert detect_layout(backbone) == (key, 'train')
    assert detect_width(backbone, key) == width
    assert model.head.layers[0].fc.in_features == fam.final_channels(width)
    if fam.reparam:
        fused = copy.deepcopy(model.backbone)
        fused.switch_to_deploy()
        assert detect_layout(fused.state_dict()) == (key, 'deploy')


def test_unknown_layouts_are_refused():
    with pytest.raises(LayoutError, match='not a GhostNet-family checkpoint'):
        detect_layout({'conv1.weight': torch.zeros(1)})
    with pytest.raises(LayoutError, match='already is an mmghost'):
        detect_layout({'backbone.conv_stem.weight': torch.zeros(1)})
    with pytest.raises(LayoutError, match='no Ghost module'):
        detect_layout({'conv_stem.weight': torch.zeros(1), 'blocks.0.0.conv.weight': 0})


def test_dfc_rule_and_stage_tables():
    for fam in FAMILIES.values():
        dfc = [fam.use_dfc(i) for i in range(fam.arch.num_layers)]
        if fam.dfc_from_layer is None:
            assert not any(dfc)
        else:  # the reference rule: every bottleneck after the first two
            assert dfc == [i > 1 for i in range(fam.arch.num_layers)]
    assert FAMILIES['ghostnet'].arch.num_layers == 16 == FAMILIES['repghostnet'].arch.num_layers
    assert FAMILIES['ghostnetv3_small'].arch.num_layers == 10


@pytest.mark.parametrize('key', sorted(FAMILIES))
def test_stage_channels_and_strides_are_the_backbones(key):
    """The docs' stage table reads the descriptor; every backbone builds exactly that."""
    from mmghost.registry import MODELS
    fam = FAMILIES[key]
    for width in fam.widths:
        backbone = MODELS.build(dict(type=fam.backbone, widen_factor=width))
        assert tuple(backbone.stage_channels) == fam.stage_channels(width), width
        assert tuple(backbone.stage_strides) == fam.stage_strides()
