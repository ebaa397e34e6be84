"""Parameter counts and MACs against the reference implementations (spec tables)."""
import pytest

from helpers import SPEC, build, classifier_cfg, num_params
from mmghost import switch_to_deploy

CASES = [(name, width) for name, widths in SPEC.items() for width in widths]


@pytest.mark.parametrize('name,width', CASES)
def test_classifier_params(name, width):
    train_params, deploy_params, _, _ = SPEC[name][width]
    model = build(classifier_cfg(name, width))
    assert num_params(model) == train_params
    switch_to_deploy(model)
    assert num_params(model) == deploy_params
    # A model built directly in deploy form has the same parameters.
    if name in ('GhostNetV3', 'GhostNetV3Small', 'RepGhostNet'):
        assert num_params(build(classifier_cfg(name, width, deploy=True))) == deploy_params


def conv_linear_macs(model, size):
    """Conv + linear MACs (the papers' FLOPs convention) from mmengine's FlopAnalyzer."""
    from mmghost.analysis import count_complexity
    r = count_complexity(model, (size, size))
    return r['macs'], r['total']


# Deploy-form MACs within 1% of the spec (the bar); every family, a few widths each.
MAC_CASES = [('GhostNet', 1.0), ('GhostNet', 0.5), ('GhostNetV2', 1.0), ('GhostNetV2', 1.3),
             ('GhostNetV3', 1.0), ('GhostNetV3', 1.6), ('RepGhostNet', 1.0),
             ('RepGhostNet', 0.58), ('GhostNetV3Small', 2.8), ('GhostNetV3Small', 1.0)]


@pytest.mark.parametrize('name,width', MAC_CASES)
def test_deploy_macs(name, width):
    _, _, train_macs, deploy_macs = SPEC[name][width]
    size = 32 if name == 'GhostNetV3Small' else 224
    model = build(classifier_cfg(name, width))
    macs, total = conv_linear_macs(switch_to_deploy(model), size)
    assert abs(macs - deploy_macs) <= 0.01 * deploy_macs, (macs, deploy_macs)
    assert total >= macs  # mmengine's total also counts BN, pooling and upsampling


@pytest.mark.parametrize('name,width', [('GhostNetV3', 1.0), ('GhostNetV3Small', 2.8)])
def test_train_form_macs(name, width):
    _, _, train_macs, _ = SPEC[name][width]
    size = 32 if name == 'GhostNetV3Small' else 224
    macs, _ = conv_linear_macs(build(classifier_cfg(name, width)), size)
    assert abs(macs - train_macs) <= 0.01 * train_macs, (macs, train_macs)
