"""openmim with mmghost: search lists every published model and detection config, download
fetches the published file (from a loopback mirror standing in for the publisher) and our
config, train and test run our tools."""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

from helpers import write_tiny_classifier_config
from loopback import serve
from mmghost.families import all_models, get_model_entry

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MIM = shutil.which('mim', path=osp.dirname(sys.executable))

pytestmark = pytest.mark.skipif(MIM is None, reason='openmim is not installed')

# mim downloads with requests; the publishers' URLs go to the loopback mirror instead.
SITECUSTOMIZE = '''
import os
import requests
_get = requests.get


def _mirrored(url, *args, **kwargs):
    mirror = os.environ.get('MMGHOST_CHECKPOINT_MIRROR')
    if mirror and url.startswith('https://'):
        url = mirror + '/' + url.split('://', 1)[1]
    return _get(url, *args, **kwargs)


requests.get = _mirrored
'''


def mim(*args, cwd, env=None):
    proc = subprocess.run([MIM] + [str(a) for a in args], cwd=str(cwd), capture_output=True,
                          text=True, timeout=900, env=env)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return proc.stdout + proc.stderr


def test_search_lists_every_published_model_and_detection_config(tmp_path):
    out = mim('search', 'mmghost', cwd=tmp_path)
    ids = [line.split(':', 1)[1].strip() for line in out.splitlines()
           if line.startswith('config id:')]
    detectors = [osp.splitext(osp.basename(p))[0]
                 for p in glob.glob(osp.join(REPO, 'configs', 'detection', '*.py'))]
    assert sorted(ids) == sorted(list(all_models()) + detectors)
    out = mim('search', 'mmghost', '--model', 'rtmdet', '--field', 'parameters', 'test_size',
              cwd=tmp_path)
    assert 'rtmdet-tiny_ghostv3-ghostpafpn_320' in out and '320x320' in out
    assert 'ssdlite' not in out


def test_download_fetches_the_published_file_and_our_config(tmp_path):
    name = 'repghostnet-0.5x_3rdparty_in1k'
    url = get_model_entry(name).release.url
    mirror = tmp_path / 'mirror' / url.split('://', 1)[1]
    mirror.parent.mkdir(parents=True)
    torch.save({'conv_stem.weight': torch.zeros(1)}, mirror)
    (tmp_path / 'site').mkdir()
    (tmp_path / 'site' / 'sitecustomize.py').write_text(SITECUSTOMIZE)
    with serve(tmp_path / 'mirror') as (base, requests):
        env = dict(os.environ, MMGHOST_CHECKPOINT_MIRROR=base,
                   PYTHONPATH=str(tmp_path / 'site'))
        mim('download', 'mmghost', '--config', name, '--dest', tmp_path / 'dl', cwd=tmp_path,
            env=env)
    assert (tmp_path / 'dl' / osp.basename(url)).read_bytes() == mirror.read_bytes()
    assert "type='mmghost.RepGhostNet'" in (tmp_path / 'dl' / f'{name}.py').read_text()
    assert len(requests) == 1


def test_train_and_test_run_our_tools(tmp_path):
    cfg = write_tiny_classifier_config(tmp_path)
    out = mim('train', 'mmghost', cfg, '--work-dir', tmp_path / 'work', cwd=tmp_path)
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file(), out[-2000:]
    out = mim('test', 'mmghost', cfg, '--checkpoint', tmp_path / 'work' / 'epoch_1.pth',
              '--work-dir', tmp_path / 'test', cwd=tmp_path)
    assert 'accuracy/top1:' in out, out[-2000:]
