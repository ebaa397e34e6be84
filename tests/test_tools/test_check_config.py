"""tools/misc/check_config.py: a user's backbone swap that leaves mmdet's neck as it was."""
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'misc', 'check_config.py')


def run(config):
    return subprocess.run([sys.executable, TOOL, str(config), '--no-data'], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_a_swap_without_the_neck_fix_is_explained(tmp_path):
    cfg = tmp_path / 'my_retinanet.py'
    cfg.write_text("_base_ = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'\n"
                   "model = dict(backbone=dict(_delete_=True, type='mmghost.GhostNetV3',\n"
                   "                           out_indices=(2, 4, 6, 9)))\n")
    proc = run(cfg)
    assert proc.returncode == 1, proc.stderr
    assert ('model.neck.in_channels=[64, 128, 256, 512] do not fit model.backbone '
            '(GhostNetV3 1.0x, out_indices=(2, 4, 6, 9)), which outputs [24, 40, 112, 960] '
            'channels; set model.neck.in_channels=[24, 40, 112, 960]') in proc.stderr
    assert 'Traceback' not in proc.stderr
    fixed = '(2, 4, 6, 9)),\n             neck=dict(in_channels=[24, 40, 112, 960]))'
    cfg.write_text(cfg.read_text().replace('(2, 4, 6, 9)))', fixed))
    proc = run(cfg)
    assert proc.returncode == 0 and 'OK' in proc.stdout, proc.stderr
