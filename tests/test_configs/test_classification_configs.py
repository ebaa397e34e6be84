"""Classification configs: every config under configs/classification/ builds and trains one
step on CPU (KD configs with their real teachers, checkpoints aside), its lr schedule warms up
and decays, and the GhostNetV3 ImageNet KD and GhostNetV3-Small CIFAR-10 configs carry the
papers' recipes."""
import copy
import glob
import json
import os
import os.path as osp
import re

import pytest
import torch

pytest.importorskip('mmpretrain')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ROOT = osp.join(REPO, 'configs', 'classification')
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(p, ROOT).split(os.sep))
V3_KD = osp.join(ROOT, 'ghostnetv3', 'ghostnetv3-1.0x_kd-beitv2-base_8xb256-lamb-600e_in1k.py')
CIFAR_DEFAULT = osp.join(ROOT, 'ghostnetv3_small', 'ghostnetv3-small-2.8x_1xb256-200e_cifar10.py')
KD = 'mmghost.KDImageClassifier'

# GhostNetV3-Small's seed recipe normalization, (0.4914, 0.4822, 0.4465) / (0.2471, 0.2435,
# 0.2616) of 255.
PML_MEAN = [125.307, 122.961, 113.8575]
PML_STD = [63.0105, 62.0925, 66.708]


def _ids(path):
    return osp.relpath(path, ROOT)


def _named_kd(path):
    """Whether the file name has a `kd` token (`..._kd-resnet50_...`, `..._digits-kd-demo`)."""
    return re.search(r'(^|[_-])kd([_-]|$)', osp.splitext(osp.basename(path))[0]) is not None


# The recipe configs (the demos train their own teachers under work_dirs/, for instance).
RECIPES = [p for p in CONFIGS if _ids(p).split(os.sep)[0] != 'demo']


def _load(path):
    from mmengine.config import Config
    return Config.fromfile(path)


def _types(pipeline):
    return [t['type'].split('.')[-1] for t in pipeline]


_TEACHERS = {}


@pytest.fixture(scope='module')
def cached_teachers():
    """Builds each distinct teacher once for the whole module (BEiT-B takes seconds), and
    runs on one thread: batches of two tiny images gain nothing from more, and a second
    thread only spins when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    from mmghost.models.classifiers import kd_classifier
    build = kd_classifier.build_teacher

    def cached(cfg):
        # input_size/mean/std/weight only change what the classifier feeds the teacher.
        key = json.dumps([cfg['config'], cfg.get('checkpoint')], sort_keys=True, default=str)
        if key not in _TEACHERS:
            _TEACHERS[key] = build(cfg)
        return _TEACHERS[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kd_classifier, 'build_teacher', cached)
        yield
    torch.set_num_threads(threads)


def _is_kd(cfg):
    return cfg.model.type == KD and cfg.model.get('alpha', 0.5) > 0


def _build(cfg):
    """The config's model (teachers without checkpoints, backbone without pretrained init)
    and its optimizer wrapper, under mmpretrain's default scope as tools/train.py does."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, DefaultScope
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.init_cfg = None
    for teacher in cfg.model.get('teachers', []):
        teacher.checkpoint = None
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        model = MODELS.build(cfg.model)
        model.init_weights()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper


@pytest.mark.parametrize('path', CONFIGS, ids=_ids)
def test_config_trains_one_step(path, cached_teachers):
    from mmpretrain.structures import DataSample
    cfg = _load(path)
    kd = _is_kd(cfg)
    assert _named_kd(path) == kd, 'KD configs, and only they, say so by name'
    model, optim_wrapper = _build(cfg)
    model.train()
    num_classes = cfg.model.head.num_classes
    size = 64 if num_classes == 1000 else 32  # ImageNet vs CIFAR-like 32x32 configs
    data = dict(
        inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8) for _ in range(2)],
        data_samples=[DataSample().set_gt_label(i % num_classes) for i in range(2)])
    before = [p.detach().clone() for p in model.parameters()]
    losses = model.train_step(data, optim_wrapper)
    for name, value in losses.items():
        assert torch.isfinite(torch.as_tensor(value)).all(), (name, value)
    assert ('loss_kd' in losses) == kd
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    if kd:
        for teacher in model.teachers:
            assert not teacher.training
            assert not any(p.requires_grad for p in teacher.parameters())
    model.eval()
    out = model.val_step(data)
    assert len(out) == 2 and out[0].pred_score.shape == (num_classes, )


def _lr_curve(cfg, epochs, epoch_length=4):
    """The lr at every iteration, with the schedulers built and stepped as mmengine's Runner
    and ParamSchedulerHook do (epoch-based ones once an epoch)."""
    from mmengine.optim import OptimWrapper
    from mmengine.registry import PARAM_SCHEDULERS
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=cfg.optim_wrapper.optimizer.lr)
    wrapper = OptimWrapper(optimizer)
    schedulers = []
    for s in copy.deepcopy(cfg.param_scheduler):
        s = dict(s)
        convert = s.pop('convert_to_iter_based', False)
        if convert:
            sched = PARAM_SCHEDULERS.get(s.pop('type')).build_iter_from_epoch(
                optimizer=wrapper, epoch_length=epoch_length, **s)
        else:
            sched = PARAM_SCHEDULERS.build(s, default_args=dict(optimizer=wrapper))
        schedulers.append(sched)
    lrs = []
    for _ in range(epochs):
        for _ in range(epoch_length):
            lrs.append(optimizer.param_groups[0]['lr'])
            for sched in schedulers:
                if not sched.by_epoch:
                    sched.step()
        for sched in schedulers:
            if sched.by_epoch:
                sched.step()
    return lrs


@pytest.mark.parametrize('path', [p for p in RECIPES if 'deploy' not in osp.basename(p)],
                         ids=_ids)
def test_lr_schedule_warms_up_then_decays(path):
    cfg = _load(path)
    base_lr = cfg.optim_wrapper.optimizer.lr
    lrs = _lr_curve(cfg, cfg.train_cfg.max_epochs)
    assert all(0 <= lr <= base_lr * (1 + 1e-6) for lr in lrs)
    assert lrs[0] < 0.2 * base_lr, 'starts with a warmup'
    assert max(lrs) == pytest.approx(base_lr, rel=0.05), 'reaches the configured lr'
    assert lrs[len(lrs) // 2] > 0.01 * base_lr, 'does not collapse half-way'
    assert lrs[-1] < 0.05 * base_lr, 'decays by the end'


def test_ghostnetv3_imagenet_kd_config_is_the_papers_recipe():
    import mmpretrain
    from mmengine.registry import OPTIMIZERS
    from mmpretrain.engine.optimizers import Lamb
    cfg = _load(V3_KD)
    model = cfg.model
    # KD from BEiTv2-B (mmpretrain's ImageNet-1k model), alpha 0.5, tau 1, at 224x224.
    assert model.type == KD and model.alpha == 0.5 and model.tau == 1.0
    (teacher, ) = model.teachers
    assert teacher.config in mmpretrain.list_models('*beitv2*')
    assert teacher.config.startswith('beit-base') and teacher.config.endswith('_in1k')
    assert teacher.checkpoint == 'checkpoints/beitv2-base_in1k.pth'
    assert tuple(teacher.input_size) == (224, 224)
    # Re-parameterizable training form: 3 conv branches plus the 1x1 depth-wise branch.
    assert model.backbone.type == 'mmghost.GhostNetV3' and not model.backbone.get('deploy')
    assert model.backbone.num_conv_branches == 3 and model.backbone.dw_scale is True
    # LAMB at lr 5e-3 for batch 2048 (8 x 256), auto-scaled; weight decay 0.05.
    opt = cfg.optim_wrapper.optimizer
    assert OPTIMIZERS.get(opt.type) is Lamb
    assert opt.lr == 5e-3 and opt.weight_decay == 0.05
    assert cfg.auto_scale_lr.base_batch_size == 2048 == 8 * cfg.train_dataloader.batch_size
    # 600 epochs, cosine to 0 after a warmup.
    assert cfg.train_cfg.max_epochs == 600
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.begin == 0
    assert cosine.type == 'CosineAnnealingLR' and cosine.eta_min == 0
    assert cosine.begin == warmup.end and cosine.end == 600
    # EMA with decay 0.9999 (mmengine's momentum is 1 - decay).
    (ema, ) = [h for h in cfg.custom_hooks if h.type.split('.')[-1] == 'EMAHook']
    assert ema.momentum == pytest.approx(1e-4)
    # RandAugment and random erasing; no Mixup or CutMix anywhere.
    train_types = _types(cfg.train_dataloader.dataset.pipeline)
    assert 'RandAugment' in train_types and 'RandomErasing' in train_types
    assert not (model.get('train_cfg') or {}).get('augments')
    assert not model.data_preprocessor.get('batch_augments')
    assert 'Mixup' not in cfg.pretty_text and 'CutMix' not in cfg.pretty_text
    # ImageNet-1k, evaluated at 224.
    assert cfg.train_dataloader.dataset.type.endswith('ImageNet')
    assert _types(cfg.val_dataloader.dataset.pipeline)[-2] == 'CenterCrop'


def test_ghostnetv3_small_cifar_config_is_the_seed_recipe_with_a_held_out_split():
    cfg = _load(CIFAR_DEFAULT)
    assert cfg.model.type == 'mmpretrain.ImageClassifier'
    assert cfg.model.backbone.type == 'mmghost.GhostNetV3Small'
    assert cfg.model.backbone.widen_factor == 2.8 and cfg.model.head.in_channels == 448
    pre = cfg.model.data_preprocessor
    assert pre.mean == PML_MEAN and pre.std == PML_STD and pre.to_rgb is False
    # SGD with nesterov, lr 0.01, momentum 0.9, weight decay 0.01 on everything, batch 256.
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'SGD' and opt.nesterov is True
    assert (opt.lr, opt.momentum, opt.weight_decay) == (0.01, 0.9, 0.01)
    assert 'paramwise_cfg' not in cfg.optim_wrapper
    assert cfg.train_dataloader.batch_size == 256 == cfg.auto_scale_lr.base_batch_size
    # 200 epochs; warmup over 30% of them, then cosine.
    assert cfg.train_cfg.max_epochs == 200
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and (warmup.begin, warmup.end) == (0, 60)
    assert cosine.type == 'CosineAnnealingLR' and (cosine.begin, cosine.end) == (60, 200)
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    # RandomCrop(32, pad 4) + horizontal flip, nothing else; no Mixup/CutMix, no EMA.
    train = cfg.train_dataloader.dataset
    assert _types(train.pipeline) == ['RandomCrop', 'RandomFlip', 'PackInputs']
    crop, flip = train.pipeline[:2]
    assert (crop.crop_size, crop.padding) == (32, 4) and flip.direction == 'horizontal'
    assert not (cfg.model.get('train_cfg') or {}).get('augments')
    assert not cfg.get('custom_hooks')
    # Train on indices 0..44999, validate (and keep the best checkpoint) on 45000..49999 of
    # the train split, test once on the test split.
    val, test = cfg.val_dataloader.dataset, cfg.test_dataloader.dataset
    assert train.type.endswith('CIFAR10') and train.data_root == 'data/cifar10'
    assert (train.split, train.indices) == ('train', 45000)
    assert (val.split, val.indices) == ('train', -5000)
    assert test.split == 'test' and test.get('indices') is None
    assert cfg.default_hooks.checkpoint.save_best == 'auto'


def test_held_out_indices_split_the_cifar_train_set_into_45000_and_5000():
    """What `indices=45000` / `indices=-5000` select in mmengine's BaseDataset, which
    mmpretrain's CIFAR10 passes them to."""
    import inspect

    from mmengine.dataset import BaseDataset
    from mmpretrain.datasets import CIFAR10
    from mmpretrain.datasets.base_dataset import BaseDataset as ClsBaseDataset
    assert 'indices' in inspect.signature(ClsBaseDataset.__init__).parameters
    assert issubclass(CIFAR10, BaseDataset)

    class Fake(BaseDataset):

        def load_data_list(self):
            return [dict(idx=i) for i in range(50000)]

    cfg = _load(CIFAR_DEFAULT)
    train = Fake(indices=cfg.train_dataloader.dataset.indices)
    val = Fake(indices=cfg.val_dataloader.dataset.indices)
    assert [train[i]['idx'] for i in (0, len(train) - 1)] == [0, 44999]
    assert [val[i]['idx'] for i in (0, len(val) - 1)] == [45000, 49999]
    assert len(train) == 45000 and len(val) == 5000


@pytest.mark.parametrize('path', [p for p in RECIPES if _named_kd(p)], ids=_ids)
def test_kd_configs_name_local_teacher_checkpoints_in_their_header(path):
    import mmpretrain
    cfg = _load(path)
    with open(path) as f:
        header = ''.join(line for line in f if line.startswith('#'))
    names = set(mmpretrain.list_models())
    for teacher in cfg.model.teachers:
        assert teacher.checkpoint.startswith('checkpoints/'), teacher.checkpoint
        assert teacher.checkpoint in header
        assert teacher.config in names
    if cfg.get('load_from'):
        assert cfg.load_from in header
