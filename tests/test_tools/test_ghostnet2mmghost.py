"""tools/model_converters/ghostnet2mmghost.py: the command line (the conversion itself is
tested in tests/test_checkpoint/test_convert.py)."""
import os.path as osp
import runpy

import pytest
import torch

from helpers import timm_model

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLI = osp.join(REPO, 'tools', 'model_converters', 'ghostnet2mmghost.py')


def test_cli_report_and_error(tmp_path, capsys):
    timm = pytest.importorskip('timm')
    ref = timm_model(timm, 'ghostnet_050')
    torch.save(ref.state_dict(), tmp_path / 'v1.pth')
    main = runpy.run_path(CLI)['main']
    assert main([str(tmp_path / 'v1.pth'), str(tmp_path / 'out.pth'), '--verify-size', '64',
                 '64']) == 0
    out = capsys.readouterr().out
    for text in ('detected: GhostNet 0.5x (training form), 1000 classes', 'verified against timm',
                 f'wrote {tmp_path / "out.pth"}: {len(ref.state_dict())} tensors',
                 'ghostnet-0.5x_8xb128-400e_in1k.py', 'dropped: nothing', 'renamed: '):
        assert text in out, text
    assert main([str(tmp_path / 'v1.pth'), str(tmp_path / 'bad.pth'), '--width', '1.0']) == 1
    err = capsys.readouterr().err
    assert 'GhostNet 0.5x' in err and 'nothing was written' in err
    assert not (tmp_path / 'bad.pth').exists()
