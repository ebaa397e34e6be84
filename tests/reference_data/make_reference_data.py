"""Write the key manifests and logits fixtures of ``tests/reference_data`` from the reference code.

Run once, by hand, when a published layout is added (nothing in the test suite runs it)::

    git clone https://github.com/huawei-noah/Efficient-AI-Backbones EAB   # or a bare mirror
    git clone https://github.com/ChengpengChen/RepGhost REPGHOST
    pip install thop==0.1.1.post2209072238      # only for this script
    python tests/reference_data/make_reference_data.py --eab EAB --repghost REPGHOST

It imports the reference model files from those checkouts (``ghostnet_pytorch/ghostnet.py``,
``ghostnetv2_pytorch/model/ghostnetv2_torch.py``, ``ghostnetv3_pytorch/ghostnetv3.py``,
``model/repghost.py``) and timm's own GhostNet/RepGhost models, and nothing of mmghost. For each
published layout it builds the reference model at the release width, makes the file the way
its release was made (thop's ``profile()`` for the V2/V3 files, timm's ``CheckpointSaver`` for
the training wrappers, ``DataParallel`` for ``module.`` keys, the reference ``reparameterize()``
/ ``repghost_model_convert`` / timm's ``convert_to_deploy()`` for deploy forms), saves and
reloads it, and records key -> (shape, dtype) and the non-tensor entries in
``manifests/NAME.json``. For one layout per family it also loads the seeded weights of
:mod:`weights` into the reference model and records its eval-mode logits on seeded inputs in
``logits/NAME.json``: what a conversion of that file must reproduce.

GhostNetV3-Small's PML code is not published in a repository this project can read; its
description is "the official ghostnetv3.py with a stride-1 stem, a new block table and 10
classes" (the DFC guard it adds never triggers at 33x33), so its reference is the official
V3 ``GhostNet`` class with that table, 10 classes, and the stem's stride set to 1.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import types

import torch
from torch import nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from reference_data.weights import checksum, seeded_input, seeded_state_dict  # noqa: E402

HERE = osp.dirname(osp.abspath(__file__))
THOP_INPUT = (1, 3, 224, 224)
LOGITS_INPUT = (2, 3, 67, 67)
SMALL_INPUT = (2, 3, 33, 33)

# The block table of GhostNetV3-Small (k, mid, out, SE, stride), from its paper's code.
V3_SMALL_CFGS = [
    [[3, 16, 16, 0, 1]], [[3, 32, 20, 0, 2]], [[3, 40, 20, 0, 1]], [[3, 48, 32, 0.25, 1]],
    [[3, 64, 32, 0.25, 1]],
    [[3, 80, 48, 0, 2], [3, 96, 48, 0, 1], [3, 120, 64, 0.25, 1]],
    [[3, 128, 80, 0.25, 1], [3, 160, 80, 0.25, 1]],
]


def load_file(path, name):
    """Import a reference file by path; the V2/V3 files want ``timm.models.registry``."""
    try:
        import timm.models.registry  # noqa: F401
    except ImportError:
        import timm.models
        shim = types.ModuleType('timm.models.registry')
        shim.register_model = timm.models.register_model
        sys.modules['timm.models.registry'] = shim
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # timm's register_model looks its module up there
    spec.loader.exec_module(module)
    return module


def source_tree(path, files, tmp):
    """``(folder holding files, commit)``: a checkout is used as it is; a bare git directory
    (e.g. a mirror) has the files extracted from its HEAD into ``tmp``."""
    def git(*cmd, **kw):
        return subprocess.run(['git', *cmd], capture_output=True, check=True, **kw).stdout
    if osp.exists(osp.join(path, '.git')):
        return path, git('-C', path, 'rev-parse', 'HEAD', text=True).strip()
    commit = git('--git-dir', path, 'rev-parse', 'HEAD', text=True).strip()
    archive = git('--git-dir', path, 'archive', 'HEAD', *files)
    subprocess.run(['tar', '-x', '-C', tmp], input=archive, check=True)
    return tmp, commit


def thop_profile(model):
    import thop
    thop.profile(model, inputs=(torch.zeros(THOP_INPUT),), verbose=False)
    return model


def wrapper_with_saver(model, unwrap=None, thop_first=False):
    """The dict timm's CheckpointSaver writes for a model with an EMA copy (the reference
    training scripts' saver), read back from disk."""
    from timm.utils import CheckpointSaver, ModelEmaV2
    if thop_first:
        thop_profile(model.module if isinstance(model, nn.DataParallel) else model)
    ema = ModelEmaV2(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with tempfile.TemporaryDirectory() as tmp:
        kwargs = {} if unwrap is None else dict(unwrap_fn=unwrap)
        saver = CheckpointSaver(model, optimizer, args=argparse.Namespace(model='reference'),
                                model_ema=ema, checkpoint_dir=tmp, recovery_dir=tmp, **kwargs)
        saver._save(osp.join(tmp, 'ckpt.pth.tar'), epoch=0, metric=0.0)
        return torch.load(osp.join(tmp, 'ckpt.pth.tar'), map_location='cpu', weights_only=False)


def reload(obj):
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(obj, osp.join(tmp, 'f.pth'))
        return torch.load(osp.join(tmp, 'f.pth'), map_location='cpu', weights_only=False)


def describe(state_dict):
    return {k: [list(v.shape), str(v.dtype).replace('torch.', '')]
            for k, v in state_dict.items()}


def type_name(value):
    cls = type(value)
    return cls.__name__ if cls.__module__ == 'builtins' else f'{cls.__module__}.{cls.__name__}'


def manifest_of(ckpt):
    """``copies`` (the state-dict entries of a wrapper, None for a flat file), ``extras``
    (every other entry's type) and ``tensors`` (one copy's keys: a wrapper's copies hold the
    same keys, which is asserted)."""
    def is_sd(v):
        return isinstance(v, dict) and v and all(isinstance(t, torch.Tensor) for t in v.values())
    if is_sd(ckpt):
        return dict(copies=None, extras={}, tensors=describe(ckpt))
    copies = [k for k, v in ckpt.items() if is_sd(v)]
    tensors = [describe(ckpt[k]) for k in copies]
    assert all(t == tensors[0] for t in tensors), 'the copies differ in keys'
    extras = {k: type_name(v) for k, v in ckpt.items() if k not in copies}
    return dict(copies=copies, extras=extras, tensors=tensors[0])


def dumps(data):
    """JSON with one entry of each top-level dict per line (readable diffs, small files)."""
    def one(v):
        return json.dumps(v, separators=(',', ':'))
    lines = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            items = [f'  {json.dumps(k)}: {one(v)}' for k, v in value.items()]
            lines.append(f' {json.dumps(key)}: {{\n' + ',\n'.join(items) + '}')
        elif key == 'logits':
            lines.append(f' {json.dumps(key)}: [\n' +
                         ',\n'.join(f'  {one(row)}' for row in value) + ']')
        else:
            lines.append(f' {json.dumps(key)}: {one(value)}')
    return '{\n' + ',\n'.join(lines) + '}\n'


def write(folder, name, data):
    os.makedirs(osp.join(HERE, folder), exist_ok=True)
    path = osp.join(HERE, folder, name + '.json')
    text = dumps(data)
    assert json.loads(text) == data
    with open(path, 'w') as f:
        f.write(text)
    print(f'wrote {osp.relpath(path)} ({len(text)} bytes)')


def logits_fixture(model, manifest, copy, shape):
    """Seeded weights of ``copy`` loaded strictly into the reference model; its logits."""
    tensors = {k: v for k, v in manifest['tensors'].items() if 'total_' not in k}
    sd = seeded_state_dict(tensors, copy)
    sd = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in sd.items()}
    model.load_state_dict(sd, strict=True)
    x = seeded_input(shape)
    with torch.no_grad():
        out = model.eval()(x)
    return dict(copy=copy, input_shape=list(shape), input_seed=0, input_checksum=checksum(x),
                weights_checksum=checksum(sd),
                logits=[[float(f'{v:.8g}') for v in row] for row in out.tolist()])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--eab', required=True,
                        help='Efficient-AI-Backbones: a checkout, or a (bare) git directory')
    parser.add_argument('--repghost', required=True,
                        help='RepGhost: a checkout, or a (bare) git directory')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as eab_tmp, tempfile.TemporaryDirectory() as rg_tmp:
        eab_files = ['ghostnet_pytorch/ghostnet.py',
                     'ghostnetv2_pytorch/model/ghostnetv2_torch.py',
                     'ghostnetv3_pytorch/ghostnetv3.py']
        eab_dir, eab_commit = source_tree(args.eab, eab_files, eab_tmp)
        rg_dir, rg_commit = source_tree(args.repghost, ['model/repghost.py'], rg_tmp)
        modules = [load_file(osp.join(eab_dir, f), n) for f, n in zip(
            eab_files, ['ref_ghostnet', 'ref_ghostnetv2', 'ref_ghostnetv3'])]
        modules.append(load_file(osp.join(rg_dir, 'model/repghost.py'), 'ref_repghost'))
    write_all(*modules, eab=f'huawei-noah/Efficient-AI-Backbones@{eab_commit}',
              rgh=f'ChengpengChen/RepGhost@{rg_commit}')


def write_all(v1, v2, v3, rg, eab, rgh):
    import thop
    import timm
    torch.manual_seed(0)
    tm = f'timm {timm.__version__}'
    thop_note = f'thop {thop.__version__} profile() at {THOP_INPUT[2]}x{THOP_INPUT[3]}'

    def v2_model():
        return v2.ghostnetv2(num_classes=1000, width=1.0, dropout=0.2, args=None)

    def v3_small():
        model = v3.GhostNet(V3_SMALL_CFGS, num_classes=10, width=2.8, dropout=0.0)
        model.conv_stem.stride = (1, 1)
        return model

    def v3_deploy():
        model = v3.ghostnetv3(width=1.0).eval()
        model.reparameterize()
        return model

    def rg_deploy():
        return rg.repghost_model_convert(rg.repghostnet_1_0x().eval())

    def timm_deploy(name):
        model = timm.create_model(name, pretrained=False).eval()
        model.convert_to_deploy()
        return model

    layouts = [
        # name, reference, call, release file, (family, width, form, classes), build, steps
        ('ghostnet_official', eab, 'ghostnet_pytorch/ghostnet.py: ghostnet(width=1.0)',
         'state_dict_73.98.pth', ('GhostNet', 1.0, 'train', 1000),
         lambda: v1.ghostnet(width=1.0).state_dict(), 'model.state_dict()'),
        ('ghostnetv2_official', eab, 'ghostnetv2_pytorch/model/ghostnetv2_torch.py: '
         'ghostnetv2(width=1.0)', 'ck_ghostnetv2_10.pth.tar', ('GhostNetV2', 1.0, 'train', 1000),
         lambda: thop_profile(v2_model()).state_dict(), thop_note + ', model.state_dict()'),
        ('ghostnetv3_official', eab, 'ghostnetv3_pytorch/ghostnetv3.py: ghostnetv3(width=1.0)',
         'ghostnetv3-1.0.pth.tar', ('GhostNetV3', 1.0, 'train', 1000),
         lambda: wrapper_with_saver(v3.ghostnetv3(width=1.0), thop_first=True),
         thop_note + ", then timm's CheckpointSaver with a ModelEmaV2 copy"),
        ('ghostnetv3_official_module', eab, 'ghostnetv3_pytorch/ghostnetv3.py: '
         'ghostnetv3(width=1.0)', None, ('GhostNetV3', 1.0, 'train', 1000),
         lambda: nn.DataParallel(v3.ghostnetv3(width=1.0)).state_dict(),
         'nn.DataParallel(model).state_dict() (module. keys)'),
        ('ghostnetv3_official_deploy', eab, 'ghostnetv3_pytorch/ghostnetv3.py: '
         'ghostnetv3(width=1.0).reparameterize()', None, ('GhostNetV3', 1.0, 'deploy', 1000),
         lambda: v3_deploy().state_dict(), 'model.eval(); model.reparameterize(); state_dict()'),
        ('ghostnetv3_small_official', eab, "ghostnetv3_pytorch/ghostnetv3.py: GhostNet("
         "GhostNetV3-Small's table, num_classes=10, width=2.8), stem stride 1", None,
         ('GhostNetV3Small', 2.8, 'train', 10), lambda: v3_small().state_dict(),
         'model.state_dict()'),
        ('repghostnet_release', rgh, 'model/repghost.py: repghostnet_1_0x()',
         'repghostnet_1_0x_142M_74.22.pth.tar', ('RepGhostNet', 1.0, 'train', 1000),
         lambda: wrapper_with_saver(nn.DataParallel(rg.repghostnet_1_0x()),
                                    unwrap=lambda m: getattr(m, 'module', m)
                                    if not isinstance(m, nn.DataParallel) else m),
         "timm's CheckpointSaver of a DataParallel model with a ModelEmaV2 copy, not "
         "unwrapped (the module. keys RepGhost's convert.py strips)"),
        ('repghostnet_deploy', rgh, 'model/repghost.py: repghost_model_convert('
         'repghostnet_1_0x())', None, ('RepGhostNet', 1.0, 'deploy', 1000),
         lambda: rg_deploy().state_dict(), "what RepGhost's convert.py saves"),
        ('timm_ghostnet_100', tm, "timm.create_model('ghostnet_100')", 'ghostnet_100.in1k',
         ('GhostNet', 1.0, 'train', 1000),
         lambda: timm.create_model('ghostnet_100').state_dict(), 'model.state_dict()'),
        ('timm_ghostnetv2_100', tm, "timm.create_model('ghostnetv2_100')",
         'ghostnetv2_100.in1k', ('GhostNetV2', 1.0, 'train', 1000),
         lambda: timm.create_model('ghostnetv2_100').state_dict(), 'model.state_dict()'),
        ('timm_ghostnetv3_100', tm, "timm.create_model('ghostnetv3_100')",
         'ghostnetv3_100.in1k', ('GhostNetV3', 1.0, 'train', 1000),
         lambda: timm.create_model('ghostnetv3_100').state_dict(), 'model.state_dict()'),
        ('timm_ghostnetv3_100_deploy', tm, "timm.create_model('ghostnetv3_100')"
         '.convert_to_deploy()', None, ('GhostNetV3', 1.0, 'deploy', 1000),
         lambda: timm_deploy('ghostnetv3_100').state_dict(), 'model.state_dict()'),
        ('timm_repghostnet_100', tm, "timm.create_model('repghostnet_100')",
         'repghostnet_100.in1k', ('RepGhostNet', 1.0, 'train', 1000),
         lambda: timm.create_model('repghostnet_100').state_dict(), 'model.state_dict()'),
        ('timm_repghostnet_100_deploy', tm, "timm.create_model('repghostnet_100')"
         '.convert_to_deploy()', None, ('RepGhostNet', 1.0, 'deploy', 1000),
         lambda: timm_deploy('repghostnet_100').state_dict(), 'model.state_dict()'),
    ]
    manifests = {}
    for name, ref, call, release, (family, width, form, classes), build, steps in layouts:
        m = dict(name=name, reference=ref, model=call, release_file=release, made_by=steps,
                 family=family, width=width, form=form, num_classes=classes,
                 **manifest_of(reload(build())))
        manifests[name] = m
        write('manifests', name, m)

    # One logits fixture per family, plus the deploy forms: (manifest, copy, model, input).
    fixtures = [
        ('ghostnet_official', '', lambda: v1.ghostnet(width=1.0), LOGITS_INPUT),
        ('ghostnetv2_official', '', v2_model, LOGITS_INPUT),
        ('ghostnetv3_official', 'state_dict_ema', lambda: v3.ghostnetv3(width=1.0),
         LOGITS_INPUT),
        ('ghostnetv3_official', 'state_dict', lambda: v3.ghostnetv3(width=1.0), LOGITS_INPUT),
        ('ghostnetv3_official_deploy', '', v3_deploy, LOGITS_INPUT),
        ('ghostnetv3_small_official', '', v3_small, SMALL_INPUT),
        ('repghostnet_release', 'state_dict_ema', rg.repghostnet_1_0x, LOGITS_INPUT),
        ('repghostnet_deploy', '', rg_deploy, LOGITS_INPUT),
    ]
    for name, copy, build, shape in fixtures:
        fixture = dict(manifest=name, reference=manifests[name]['reference'],
                       model=manifests[name]['model'],
                       **logits_fixture(build(), manifests[name], copy, shape))
        write('logits', name + (f'.{copy}' if copy else ''), fixture)


if __name__ == '__main__':
    main()
