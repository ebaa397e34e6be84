"""tools/model_converters/reparameterize.py: fuse a checkpoint, verify it, and show that
tools/test.py gives the same metrics on (config, training checkpoint) and (deploy config,
fused checkpoint), for a tiny classifier and a tiny detector. Nothing is trained: the
checkpoints hold random weights with randomized BN statistics.

Each test runs its tools in ONE subprocess (tests/tool_runner.py calls the tools' ``main``
one after another), so the OpenMMLab imports are paid once per test.
"""
import os.path as osp
import pickle

import torch
from helpers import write_tiny_detector_config
from tool_runner import run_tools

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REPARAM = osp.join(REPO, 'tools', 'model_converters', 'reparameterize.py')
TEST = osp.join(REPO, 'tools', 'test.py')
CHECK_DEPLOY = osp.join(REPO, 'tools', 'misc', 'check_deploy.py')
SHAPES_CFG = osp.join(REPO, 'configs', 'classification', 'demo',
                      'ghostnetv3-small_shapes-demo.py')


# ---------------------------------------------------------------------------- classifier
def write_classifier(tmp_path):
    """GhostNetV3-Small 0.5x (48k params in deploy form) on 32 generated 32x32 val images."""
    from mmghost.datasets.demo_shapes import make_shape_classification
    data = tmp_path / 'shapes'
    make_shape_classification(str(data), num_train=8, num_val=32, size=32, seed=0)
    cfg = tmp_path / 'tiny_cls.py'
    cfg.write_text(f"""
_base_ = {SHAPES_CFG!r}
model = dict(backbone=dict(widen_factor=0.5), head=dict(in_channels=80, mid_channels=[32]))
_loader = dict(batch_size=16, num_workers=0, persistent_workers=False,
               dataset=dict(data_root={str(data)!r}))
train_dataloader = _loader
val_dataloader = _loader
test_dataloader = _loader
""")
    return cfg


# Random weights, BN statistics calibrated on the train images and then perturbed
# (helpers.randomize_bn), and a nearest-class-mean last layer so that the predictions vary
# (and beat chance) without any training.
MAKE_CLASSIFIER = r'''
import glob, cv2, torch
from helpers import randomize_bn
from mmghost.models.utils import build_from_config, load_config
torch.manual_seed(0)
cfg = load_config({cfg!r})
model = build_from_config(cfg)
def images(split):
    files = sorted(glob.glob({data!r} + '/' + split + '/*/*.png'))
    x = torch.stack([torch.from_numpy(cv2.imread(f)).permute(2, 0, 1).float() for f in files])
    y = torch.tensor([cfg.classes.index(f.split('/')[-2]) for f in files])
    return model.data_preprocessor(dict(inputs=list(x)), False)['inputs'], y
x, y = images('train')
randomize_bn(model, inputs=lambda m: m(x, mode='tensor'))
model.eval()
with torch.no_grad():
    feats = model.head.pre_logits(model.extract_feat(x))
    means = torch.stack([feats[y == c].mean(0) for c in range(len(cfg.classes))])
    fc = model.head.layers[-1].fc
    fc.weight.copy_(means)
    fc.bias.copy_(-0.5 * (means ** 2).sum(1))
torch.save(dict(meta=dict(epoch=0), state_dict=model.state_dict()), 'train.pth')
'''


def load_preds(path):
    from mmghost.checkpoint import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()
    with open(path, 'rb') as f:
        return pickle.load(f)


def test_classifier_reparameterize_then_test_gives_the_same_accuracy(tmp_path):
    cfg = write_classifier(tmp_path)
    code = MAKE_CLASSIFIER.format(cfg=str(cfg), data=str(tmp_path / 'shapes')) + f'''
rc0, _ = tool({REPARAM!r}, {str(cfg)!r}, 'train.pth', 'deploy.pth', '--shape', '32')
rc1, m1 = tool({TEST!r}, {str(cfg)!r}, 'train.pth', '--work-dir', 'w1', '--out', 'p1.pkl')
rc2, m2 = tool({TEST!r}, {str(cfg)!r}, 'deploy.pth', '--work-dir', 'w2', '--out', 'p2.pkl',
               '--cfg-options', 'model.backbone.deploy=True')
rc3, _ = tool({CHECK_DEPLOY!r}, {str(cfg)!r}, 'train.pth')
result(rc=[rc0, rc1, rc2, rc3], train=m1, deploy=m2)
'''
    res, out = run_tools(code, tmp_path)
    assert res['rc'] == [0, 0, 0, 0], out[-4000:]
    assert 'max relative difference of the outputs' in out
    rel = float(out.split('max relative difference of the outputs')[1].split(': ')[1].split()[0])
    assert rel < 1e-4
    ckpt = torch.load(tmp_path / 'deploy.pth')  # weights_only: a plain dict of tensors
    assert sorted(ckpt) == ['meta', 'state_dict']
    assert not any('_rpr_' in k for k in ckpt['state_dict'])
    # tools/test.py: the same top-1 on both, and the same prediction for every image.
    acc_train, acc_deploy = res['train']['accuracy/top1'], res['deploy']['accuracy/top1']
    assert acc_train == acc_deploy and acc_train > 25.0, (acc_train, acc_deploy)
    p1, p2 = load_preds(tmp_path / 'p1.pkl'), load_preds(tmp_path / 'p2.pkl')
    assert len(p1) == len(p2) == 32
    labels1 = [int(p['pred_label']) for p in p1]
    assert labels1 == [int(p['pred_label']) for p in p2]
    assert len(set(labels1)) > 1  # not a constant prediction
    for a, b in zip(p1, p2):
        torch.testing.assert_close(b['pred_score'], a['pred_score'], rtol=1e-4, atol=1e-5)
    # check_deploy.py (which shares the building, loading and comparing code) agrees.
    assert 'same prediction 100.00%' in out


def test_refusals_write_nothing(tmp_path):
    """Deploy-form checkpoint, a model with nothing to fuse (GhostNetV2), a mismatched
    checkpoint and a failed verification: non-zero exit, a clear message, no file."""
    cfg = write_classifier(tmp_path)
    v2 = tmp_path / 'tiny_v2.py'
    v2.write_text(f"_base_ = {str(cfg)!r}\nmodel = dict(backbone=dict(_delete_=True, "
                  f"type='mmghost.GhostNetV2', widen_factor=0.5, out_indices=(9, )), "
                  f"head=dict(in_channels=480))\n")
    wide = tmp_path / 'tiny_wide.py'
    wide.write_text(f"_base_ = {str(cfg)!r}\nmodel = dict(backbone=dict(widen_factor=1.0), "
                    f"head=dict(in_channels=160))\n")
    code = f'''
import torch
from mmghost.models.utils import build_from_config, load_config
torch.manual_seed(0)
torch.save(dict(state_dict=build_from_config(load_config({str(cfg)!r})).state_dict()), 'train.pth')
torch.save(dict(state_dict=build_from_config(load_config({str(v2)!r})).state_dict()), 'v2.pth')
codes = {{}}
codes['ok'] = tool({REPARAM!r}, {str(cfg)!r}, 'train.pth', 'deploy.pth', '--shape', '32')
kw = dict(check=False)
codes['again'] = tool({REPARAM!r}, {str(cfg)!r}, 'deploy.pth', 'again.pth', '--shape', '32', **kw)
codes['v2'] = tool({REPARAM!r}, {str(v2)!r}, 'v2.pth', 'v2_deploy.pth', '--shape', '32', **kw)
codes['mismatch'] = tool({REPARAM!r}, {str(wide)!r}, 'train.pth', 'wide.pth', '--shape', '32',
                         **kw)
codes['deploy_cfg'] = tool({REPARAM!r}, {str(cfg)!r}, 'train.pth', 'x.pth', '--shape', '32',
                           '--cfg-options', 'model.backbone.deploy=True', **kw)
codes['rtol'] = tool({REPARAM!r}, {str(cfg)!r}, 'train.pth', 'strict.pth', '--shape', '32',
                     '--rtol', '0', **kw)
result(**{{k: v[0] for k, v in codes.items()}})
'''
    res, out = run_tools(code, tmp_path)
    assert res['ok'] == 0, out[-3000:]
    assert (tmp_path / 'deploy.pth').exists()
    for key in ('again', 'v2', 'mismatch', 'deploy_cfg', 'rtol'):
        assert res[key] != 0, (key, out[-3000:])
    for name in ('again.pth', 'v2_deploy.pth', 'wide.pth', 'x.pth', 'strict.pth'):
        assert not (tmp_path / name).exists(), name
    assert not list(tmp_path.glob('.*.tmp'))
    for message in ('deploy.pth is already in deploy (re-parameterized) form',
                    'GhostNetV2 has nothing to re-parameterize',
                    'train.pth does not match the model of the config',
                    'the weights do not fit GhostNetV3Small',
                    'already builds the deploy form of GhostNetV3Small',
                    'FAILED: the fused model differs', 'strict.pth removed'):
        assert message in out, (message, out[-5000:])


# ---------------------------------------------------------------------------- detector
MAKE_DETECTOR = r'''
import torch
from helpers import randomize_bn
from mmghost.models.utils import build_from_config, load_config
torch.manual_seed(0)
model = build_from_config(load_config({cfg!r}))
model.init_weights()  # mmdet's head init: small deltas, so the boxes stay near the anchors
# Enough samples per channel at stride 32 (4x4 maps x 8): calibrating on a 2x2 map of 2
# images leaves near-zero variances that blow up the deep layers' activations, and the two
# forms' float round-off with them.
x = torch.randn(8, 3, 128, 128)
randomize_bn(model, inputs=lambda m: m(x, mode='tensor'))
torch.save(dict(meta=dict(epoch=0), state_dict=model.state_dict()), 'train.pth')
'''


def test_detector_reparameterize_then_test_gives_the_same_map(tmp_path):
    cfg, _ = write_tiny_detector_config(tmp_path, size=64, num_train=1,
                                        model_options='test_cfg=dict(score_thr=0.0)',
                                        extra='custom_hooks = []\n')
    deploy_cfg = tmp_path / 'tiny_det_deploy.py'
    deploy_cfg.write_text(f"_base_ = {str(cfg)!r}\nmodel = dict(backbone=dict(deploy=True))\n")
    code = MAKE_DETECTOR.format(cfg=str(cfg)) + f'''
rc0, _ = tool({REPARAM!r}, {str(cfg)!r}, 'train.pth', 'deploy.pth', '--shape', '64', '96',
              '--deploy-config', {str(deploy_cfg)!r})
rc1, m1 = tool({TEST!r}, {str(cfg)!r}, 'train.pth', '--work-dir', 'w1', '--out', 'p1.pkl')
rc2, m2 = tool({TEST!r}, {str(deploy_cfg)!r}, 'deploy.pth', '--work-dir', 'w2',
               '--out', 'p2.pkl')
result(rc=[rc0, rc1, rc2], train=m1, deploy=m2)
'''
    res, out = run_tools(code, tmp_path)
    assert res['rc'] == [0, 0, 0], out[-4000:]
    rel = float(out.split('max relative difference of the outputs')[1].split(': ')[1].split()[0])
    assert rel < 1e-4
    m1, m2 = res['train'], res['deploy']
    keys = [k for k in m1 if k.startswith('coco/bbox_mAP')]
    assert len(keys) >= 3 and set(keys) <= set(m2)
    for k in keys:  # CocoMetric rounds to 3 decimals
        assert abs(m1[k] - m2[k]) <= 1e-3, (k, m1[k], m2[k])
    assert m1['coco/bbox_mAP_50'] > 0  # boxes near the anchors hit some shapes
    # The detections themselves: per image, the same sorted scores (NMS ties may reorder).
    p1, p2 = load_preds(tmp_path / 'p1.pkl'), load_preds(tmp_path / 'p2.pkl')
    assert len(p1) == len(p2) == 4
    for a, b in zip(p1, p2):
        sa = a['pred_instances']['scores'].sort(descending=True).values
        sb = b['pred_instances']['scores'].sort(descending=True).values
        assert len(sa) > 0 and sa.shape == sb.shape
        torch.testing.assert_close(sb, sa, rtol=1e-4, atol=1e-5)
