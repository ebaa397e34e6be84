"""mmghost.export.ncnn_export and the ncnn backend: the deploy form converted by pnnx matches
PyTorch (classifiers of every family at odd sizes, backbones, RTMDet's shared head convs), and
every bad input (missing packages, a failed conversion, files of another export or config,
sizes the graph cannot take) gets one message and leaves no file behind.

The light detectors' ncnn parity, decoded after the graph, is in test_detector_export.py
(``test_light_detectors_export_whole[...-ncnn]``); through the tools, in
tests/test_tools/test_light_detection_tools.py."""
import json
import os.path as osp
import shutil
import sys

import numpy as np
import pytest
import torch
from helpers import build, classifier_cfg, randomize_bn

pytest.importorskip('pnnx')
pytest.importorskip('ncnn')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RTOL = 1e-4


def calibrated(model, size=96):
    x = torch.randn(8, 3, size, size)
    randomize_bn(model, inputs=lambda m: m(x, mode='tensor'))
    return model.eval()


@pytest.fixture(scope='module')
def v3_classifier():
    return calibrated(build(classifier_cfg('GhostNetV3', 0.5)))


@pytest.fixture(scope='module')
def exported(v3_classifier, tmp_path_factory):
    from mmghost.export import export_ncnn
    path = str(tmp_path_factory.mktemp('ncnn') / 'v3.ncnn.param')
    export_ncnn(v3_classifier, path, shape=(96, 96))
    return path


@pytest.mark.parametrize('family', ['GhostNet', 'GhostNetV2', 'RepGhostNet', 'GhostNetV3Small'])
def test_classifiers_of_each_family_match_pytorch_at_odd_sizes(family, tmp_path):
    """Training form in, deploy form traced: the DFC gates' pooling and nearest resize
    (V2), the re-parameterized branches (RepGhost, V3-Small) at odd, non-square sizes."""
    from mmghost.export import export_checked
    model = calibrated(build(classifier_cfg(family, 0.5)))
    path = str(tmp_path / 'cls.ncnn.param')
    worst = export_checked(model, path, (96, 96), dynamic_hw=True,
                           check_shapes=[(97, 131), (65, 65)], fmt='ncnn', log=lambda m: None)
    assert worst <= RTOL
    meta = json.load(open(tmp_path / 'cls.ncnn.json'))
    assert meta['task'] == 'classifier' and meta['format'] == 'ncnn'
    assert meta['deploy'] == 'true' and meta['dynamic_hw'] == 'true'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cls.ncnn.bin', 'cls.ncnn.json',
                                                          'cls.ncnn.param']


def test_the_v3_classifier_matches_and_batches_run_image_by_image(v3_classifier, exported):
    from mmghost import switch_to_deploy
    from mmghost.runtime import create_backend
    import copy
    ref_model = switch_to_deploy(copy.deepcopy(v3_classifier))
    run = create_backend('ncnn', exported, num_threads=2)
    for i, (h, w) in enumerate([(96, 96), (131, 97)]):
        x = torch.randn(3, 3, h, w, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            ref = ref_model(x, mode='tensor').numpy()
        (got, ) = run(x.numpy())
        assert got.shape == ref.shape == (3, 1000)
        # Each image its own result (not the first image three times).
        assert np.abs(got - ref).max() <= RTOL * np.abs(ref).max()
        assert np.abs(got[1] - got[0]).max() > 100 * RTOL * np.abs(ref).max()


def test_backbone_only_gives_one_map_per_out_index(tmp_path):
    from mmghost.export import export_checked
    cfg = classifier_cfg('GhostNetV3', 0.5)
    cfg['backbone']['out_indices'] = (4, 6, 9)
    model = calibrated(build(cfg))
    path = str(tmp_path / 'bb.ncnn.param')
    export_checked(model, path, (96, 96), dynamic_hw=True, backbone_only=True, fmt='ncnn',
                   check_shapes=[(97, 131)], log=lambda m: None)
    meta = json.load(open(tmp_path / 'bb.ncnn.json'))
    assert json.loads(meta['outputs']) == ['stage4', 'stage6', 'stage9']
    assert json.loads(meta['output_strides']) == [8, 16, 32]


def test_shared_modules_are_copied_per_call_site():
    """RTMDet's share_conv heads call one conv from every level: pnnx leaves such a module
    unconverted (an ``nn.Conv2d`` layer ncnn cannot load) unless each call site has its own."""
    from mmghost.export.ncnn_export import unshare_modules
    conv = torch.nn.Conv2d(3, 3, 1)
    net = torch.nn.ModuleList([torch.nn.Sequential(conv), torch.nn.Sequential(conv)])
    assert unshare_modules(net) == 1
    assert net[0][0] is not net[1][0]
    assert torch.equal(net[0][0].weight, net[1][0].weight)
    assert unshare_modules(net) == 0


def test_bad_exports_write_nothing(v3_classifier, tmp_path, monkeypatch):
    from mmghost.export import export_ncnn
    from mmghost.export import ncnn_export
    with pytest.raises(ValueError, match=r'given by its \.ncnn\.param file'):
        export_ncnn(v3_classifier, str(tmp_path / 'a.onnx'))
    with pytest.raises(ValueError, match=r'given by its \.ncnn\.param file'):
        export_ncnn(v3_classifier, str(tmp_path / 'a.param'))  # a.bin: an OpenVINO IR's
    with pytest.raises(ValueError, match='export at H, W >= 33'):
        export_ncnn(v3_classifier, str(tmp_path / 'b.ncnn.param'), shape=(32, 64))
    with monkeypatch.context() as m:
        m.setitem(sys.modules, 'pnnx', None)
        with pytest.raises(ImportError, match=r'pip install pnnx==20261020'):
            export_ncnn(v3_classifier, str(tmp_path / 'c.ncnn.param'))
    with monkeypatch.context() as m:  # a converter that fails
        m.setattr(ncnn_export, 'pnnx_executable', lambda: shutil.which('false'))
        with pytest.raises(RuntimeError, match='pnnx could not convert GhostNetV3'):
            export_ncnn(v3_classifier, str(tmp_path / 'd.ncnn.param'), shape=(64, 64))
    assert not list(tmp_path.iterdir())  # no model files, no temporary folder


def test_yolov3_and_two_stage_detectors_are_sent_to_onnx(tmp_path):
    from mmghost.export import export_ncnn
    from mmghost.models.utils import build_from_config, load_config
    cfg = load_config(osp.join(REPO, 'configs', 'detection', 'yolov3_ghostv3_320.py'))
    cfg.model.backbone.init_cfg = None
    with pytest.raises(ValueError, match=r'YOLOV3Head\) has no dense head .* Export it to ONNX'):
        export_ncnn(build_from_config(cfg), str(tmp_path / 'y.ncnn.param'))
    assert not list(tmp_path.iterdir())


def test_files_of_another_export_or_config_are_refused(exported, tmp_path, monkeypatch):
    from mmghost.export import export_ncnn
    from mmghost.runtime import check_model_file, create_backend
    from mmghost.runtime.backends import ModelFileError
    from mmghost.models.utils import load_config
    param = tmp_path / 'v3.ncnn.param'
    for suffix in ('.param', '.bin', '.json'):
        shutil.copy(exported[:-len('.param')] + suffix, tmp_path / f'v3.ncnn{suffix}')
    create_backend('ncnn', str(param))  # the copy as it is loads
    # Another export's weights beside this graph
    other = build(classifier_cfg('GhostNet', 0.5)).eval()
    export_ncnn(other, str(tmp_path / 'g.ncnn.param'), shape=(96, 96))
    shutil.copy(tmp_path / 'g.ncnn.bin', tmp_path / 'v3.ncnn.bin')
    with pytest.raises(ModelFileError,
                       match=r'v3\.ncnn\.bin is not the file .*v3\.ncnn\.json describes'):
        create_backend('ncnn', str(param))
    (tmp_path / 'g.ncnn.json').unlink()
    with pytest.raises(ModelFileError, match=r'no mmghost metadata file .*g\.ncnn\.json: export'):
        create_backend('ncnn', str(tmp_path / 'g.ncnn.param'))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        create_backend('ncnn', str(tmp_path / 'missing.ncnn.param'))
    with monkeypatch.context() as m:
        m.setitem(sys.modules, 'ncnn', None)
        with pytest.raises(ImportError, match=r'pip install ncnn==1\.0\.20261020'):
            create_backend('ncnn', exported)
    # A GhostNetV3 export checked against a GhostNet config
    cfg = load_config(osp.join(REPO, 'configs', 'classification', 'ghostnet',
                               'ghostnet-1.0x_8xb128-400e_in1k.py'))
    with pytest.raises(ValueError, match=r"backbone: 'GhostNetV3' in the file, 'GhostNet' in"):
        check_model_file(exported, cfg)


def test_a_static_graph_refuses_other_sizes(v3_classifier, tmp_path):
    from mmghost.export import export_ncnn
    from mmghost.runtime import DeployedModel
    path = str(tmp_path / 's.ncnn.param')
    export_ncnn(v3_classifier, path, shape=(64, 80), dynamic_hw=False)
    model = DeployedModel(path, 'ncnn', task='classifier')
    with pytest.raises(ValueError, match='exported for 64x80 inputs, .* gives 96x96; export it '
                                         'at that size'):
        model(torch.zeros(1, 3, 96, 96), [])
