"""Mixed precision: every backbone and the detectors train under CPU bf16 autocast with finite
losses and gradients, re-parameterized (deploy) models stay close to float32 in half
precision, and ``tools/train.py --amp`` trains on a CPU-only machine (bf16 autocast).

Tolerances: relative L2 distance to float32 of the first (stride 4-8) and last output
stage, on random weights whose BN statistics are calibrated on 8 random 128-px images (16 at
32 px for V3-Small). Random networks amplify round-off with depth, so the deep stage is looser;
measured (first / last stage): deploy in fp16 2e-3 / 0.9-1.4e-2, deploy in bf16 1.5e-2 /
7-8.5e-2, bf16 autocast of the training form 1.4-2e-2 / 5.8-13e-2 (GhostNetV3's summed
re-parameterization branches are the largest). bf16 keeps 8 mantissa bits, fp16 11.
"""
import os.path as osp

import pytest
import torch
from helpers import ALL_BACKBONES, randomize_bn

import mmghost.models as M

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
WIDTH = dict(GhostNetV3Small=1.0)


def _rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def _backbone(name, **kw):
    """A backbone with calibrated random BN statistics, and a test batch."""
    cls = getattr(M, name)
    small = name == 'GhostNetV3Small'
    model = cls(widen_factor=WIDTH.get(name, 0.5), out_indices=(2, 5, cls().num_stages - 1),
                **kw)
    g = torch.Generator().manual_seed(0)
    calib = torch.randn(16, 3, 32, 32, generator=g) if small else \
        torch.randn(8, 3, 128, 128, generator=g)
    randomize_bn(model, inputs=calib)
    shape = (2, 3, 32, 40) if small else (2, 3, 96, 104)
    return model, torch.randn(*shape, generator=g)


def _check(outs, refs, first, last, what):
    got = (_rel(outs[0], refs[0]), _rel(outs[-1], refs[-1]))
    assert got[0] < first and got[1] < last, f'{what}: relative error {got}'


@pytest.mark.parametrize('name', ALL_BACKBONES)
def test_backbone_trains_under_cpu_bf16_autocast(name):
    model, x = _backbone(name)
    model.eval()
    with torch.no_grad():
        ref = model(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            low = model(x)
    _check(low, ref, 3e-2, 0.2, f'{name} under bf16 autocast')
    model.train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(x)
        loss = sum(o.float().pow(2).mean() for o in outs)
    assert any(o.dtype == torch.bfloat16 for o in outs), 'autocast did not run in bf16'
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.parametrize('name', ['GhostNetV3', 'RepGhostNet', 'GhostNetV3Small'])
@pytest.mark.parametrize('dtype,first,last', [(torch.float16, 5e-3, 2.5e-2),
                                              (torch.bfloat16, 3e-2, 0.15)],
                         ids=['fp16', 'bf16'])
def test_deploy_model_in_half_precision_stays_close(name, dtype, first, last):
    model, x = _backbone(name)
    model.eval().switch_to_deploy()
    with torch.no_grad():
        ref = model(x)
        low = model.to(dtype)(x.to(dtype))
    assert all(a.dtype == dtype for a in low)
    _check(low, ref, first, last, f'{name} deploy in {dtype}')


DETECTORS = ['retinanet_ghostv3.py', 'faster-rcnn_ghostv3.py', 'mask-rcnn_ghostv3.py',
             'yolov3_ghostv3_320.py']


@pytest.mark.parametrize('config', DETECTORS)
def test_detector_trains_under_cpu_bf16_autocast(config):
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'detection', config))
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmdet'):  # not left behind for other tests
        model = MODELS.build(cfg.model)
    model.train()
    torch.manual_seed(0)
    packed = demo_mm_inputs(2, [[3, 96, 128], [3, 128, 96]], num_items=[3, 2],
                            num_classes=80, with_mask='mask' in config)
    data = model.data_preprocessor(packed, training=True)
    # What --amp uses on CPU: bf16 autocast (+ float32 inputs for mmcv's NMS / RoIAlign).
    from mmghost.engine import CPUAmpOptimWrapper
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.01))
    with wrapper.optim_context(model):
        losses = model.loss(data['inputs'], data['data_samples'])
        assert torch.is_autocast_cpu_enabled() if hasattr(torch, 'is_autocast_cpu_enabled') \
            else torch.is_autocast_enabled('cpu')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss), (config, losses)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_train_tool_amp_on_cpu(tmp_path):
    """``--amp`` on a CPU-only machine selects bf16 autocast and trains with finite losses."""
    from tool_runner import run_tools
    from mmghost.datasets.demo_shapes import make_shape_classification
    make_shape_classification(str(tmp_path / 'shapes'), num_train=32, num_val=16, size=32,
                              seed=0)
    cfg = osp.join(REPO, 'configs', 'classification', 'demo',
                   'ghostnetv3-small_shapes-demo.py')
    values, out = run_tools(f"""
import torch
torch.cuda.is_available = lambda: False  # what a CPU-only machine reports
tool({osp.join(REPO, 'tools', 'train.py')!r}, {cfg!r}, '--amp', '--work-dir', 'w',
     '--cfg-options', 'train_dataloader.dataset.data_root=shapes',
     'val_dataloader.dataset.data_root=shapes', 'train_cfg.max_epochs=1',
     'train_cfg.val_interval=1', 'train_dataloader.batch_size=16',
     'model.backbone.widen_factor=0.5', 'model.head.in_channels=80')
ckpt = torch.load('w/epoch_1.pth', map_location='cpu', weights_only=False)
result(wrapper=ckpt['meta']['cfg'], finite=all(bool(torch.isfinite(v).all())
       for v in ckpt['state_dict'].values() if v.is_floating_point()))
""", tmp_path)
    assert "type='mmghost.CPUAmpOptimWrapper'" in values['wrapper']
    assert "dtype='bfloat16'" in values['wrapper']
    assert values['finite']
    assert 'loss: nan' not in out
