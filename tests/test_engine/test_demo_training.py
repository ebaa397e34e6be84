"""demo_detection_config: any single-stage detector config trained on the demo set with one
schedule, and the light-detector benchmark's demo training through tools/train.py."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

pytest.importorskip('mmdet')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SSDLITE = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'


@pytest.fixture
def runner_state():
    """A Runner built in this process makes itself the current default scope (mmdet), message
    hub and visualizer; put the earlier ones back so later tests build in their own scope."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.registry import DefaultScope
    from mmengine.visualization import Visualizer
    managers = (DefaultScope, MessageHub, MMLogger, Visualizer)
    saved = {m: dict(m._instance_dict) for m in managers}
    yield
    for m, instances in saved.items():
        m._instance_dict.clear()
        m._instance_dict.update(instances)


def _priors(cfg, size):
    from mmghost.models.utils.builder import build_from_config
    model = build_from_config(cfg)
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, size, size))
    gen = model.bbox_head.prior_generator
    sizes = [f.shape[-2:] for f in feats]
    return [p.reshape(-1, 4) for p in gen.grid_priors(sizes, device='cpu')]


def test_ssd_anchors_are_mmdets_at_320_and_scaled_with_the_input_elsewhere():
    from mmghost.engine.demo_training import demo_detection_config
    from mmghost.models.utils.builder import load_config
    ours = demo_detection_config(SSDLITE, size=320).model.bbox_head.anchor_generator
    assert ours == load_config(SSDLITE).model.bbox_head.anchor_generator
    cfg = demo_detection_config(SSDLITE, size=128)
    priors = _priors(cfg, 128)
    # The last three SSD levels are 1x1 at 128 px: their one cell is the whole picture, so
    # every anchor there is centred on it (mmdet's 320-px strides would put it at 53.5).
    for level in priors[3:]:
        centres = (level[:, :2] + level[:, 2:]) / 2
        assert torch.allclose(centres, torch.full_like(centres, 64.0))
    # Each level's anchors are centred on its cells: the first cell of level k at stride/2.
    for level, stride in zip(priors, (16, 32, 64)):
        assert torch.allclose((level[0, :2] + level[0, 2:]) / 2, torch.tensor([stride / 2.] * 2))
    # The cell's first anchor (square, min_size) keeps its share of the input: 48 of 320 px.
    first = priors[0][0]
    assert torch.allclose(first[2:] - first[:2], torch.tensor([48 * 128 / 320] * 2))


@pytest.mark.parametrize('config', [
    SSDLITE,
    'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    'mmdet::yolox/yolox_tiny_8xb8-300e_coco.py',
    osp.join(REPO, 'configs', 'detection', 'rtmdet-tiny_repghost-ghostpafpn_320.py'),
])
def test_every_single_stage_family_trains_and_validates_on_the_demo_set(
        config, demo_coco, tmp_path, runner_state):
    from mmengine.runner import Runner

    from mmghost.engine.demo_training import demo_detection_config
    cfg = demo_detection_config(config, data_root=str(demo_coco), size=64, epochs=1,
                                batch_size=4, num_workers=0)
    assert cfg.model.bbox_head.num_classes == 3 and cfg.model.backbone.init_cfg is None
    assert 'batch_augments' not in cfg.model.data_preprocessor  # YOLOX's random resize
    cfg.work_dir = str(tmp_path)
    # Two steps from scratch: keep every box (RTMDet's are still zero-sized) for the metric.
    cfg.model.test_cfg.score_thr = 0.
    if 'min_bbox_size' in cfg.model.test_cfg:
        cfg.model.test_cfg.min_bbox_size = -1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, save_last=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2  # 8 pictures, batch 4: one epoch
    metrics = runner.val_loop.run()
    assert 0 <= metrics['coco/bbox_mAP'] <= 1


def test_two_stage_detectors_are_refused_with_the_reason():
    from mmghost.engine.demo_training import demo_detection_config
    with pytest.raises(ValueError, match='single-stage'):
        demo_detection_config(osp.join(REPO, 'configs', 'detection', 'faster-rcnn_ghostv3.py'))


def test_benchmark_trains_a_detector_and_its_counterpart_and_keeps_finished_results(
        demo_coco, tmp_path):
    cmd = [sys.executable, osp.join(REPO, 'benchmarks', 'light_detectors.py'), '--sizes',
           '--only', 'ssdlite-ghostnet', '--train-demo', str(tmp_path / 'runs'),
           '--data-root', str(demo_coco), '--demo-size', '64', '--epochs', '20']
    # 20 steps: an untrained SSD's tied scores make the export's parity check (and any
    # comparison of ranked detections) ill-posed
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / 'runs' / 'demo_results.json').read_text())
    assert sorted(results) == ['ssdlite-ghostnet', 'ssdlite-mobilenetv2']
    for r in results.values():
        assert 0 <= r['bbox_mAP'] <= 1 and r['epochs'] == 20 and r['size'] == 64
        assert r['train_s'] > 0
    # The dumped config is one a user trains with tools/train.py.
    assert (tmp_path / 'runs' / 'ssdlite-ghostnet' / 'demo.py').is_file()
    assert '| ssdlite-ghostnet demo mAP >= ssdlite-mobilenetv2 |' in proc.stdout
    # A second run with the same schedule keeps both results instead of training again.
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count('kept the earlier result') == 2
    assert json.loads((tmp_path / 'runs' / 'demo_results.json').read_text()) == results
    # --deploy-demo takes the trained checkpoints through the deployment tools.
    deploy = [sys.executable, osp.join(REPO, 'benchmarks', 'light_detectors.py'), '--sizes',
              '--only', 'ssdlite-ghostnet', '--deploy-demo', '--demo-results',
              str(tmp_path / 'runs' / 'demo_results.json')]
    proc = subprocess.run(deploy, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    deployed = json.loads((tmp_path / 'runs' / 'demo_results.json').read_text())
    for name, r in deployed.items():
        assert sorted(r['deployed']) == ['openvino', 'openvino-int8', 'ort', 'ort-int8']
        assert all(0 <= v <= 1 for v in r['deployed'].values())
        # fp32 exports give PyTorch's detections, so PyTorch's mAP
        assert abs(r['deployed']['ort'] - r['bbox_mAP']) <= 0.002, (name, r)
        assert abs(r['deployed']['openvino'] - r['bbox_mAP']) <= 0.002, (name, r)
    assert (tmp_path / 'runs' / 'ssdlite-ghostnet' / 'end2end-int8.xml').is_file()
    assert '| ssdlite-ghostnet ort-int8 loses <= 0.01 mAP |' in proc.stdout
    # Without trained checkpoints there is nothing to deploy: one message naming the fix.
    bad = subprocess.run(deploy[:5] + ['--deploy-demo'], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and '--deploy-demo needs the trained checkpoints' in bad.stderr
