"""mmghost.KDImageClassifier: the loss, frozen teachers, checkpoints, ensembles and TA chains."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip('mmpretrain')


def _net(backbone='GhostNetV3Small', width=1.0, num_classes=10, **extra):
    from mmghost.families import make_divisible
    return dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type=f'mmghost.{backbone}', widen_factor=width),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=num_classes,
                  in_channels=make_divisible(160 * width, 4)),
        **extra)


def _kd(teachers, alpha=0.5, tau=2.0, **extra):
    cfg = _net(**extra)
    cfg.update(type='mmghost.KDImageClassifier', teachers=teachers, alpha=alpha, tau=tau)
    return cfg


def _build(cfg):
    from mmengine.registry import MODELS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def _batch(n=4, size=32, seed=0):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=g)
    return x, [DataSample().set_gt_label(i % 10) for i in range(n)]


def _teacher(width=1.3):
    return dict(config=_net(width=width))


def test_kd_loss_matches_a_hand_computation():
    from mmghost.models.classifiers import kd_loss
    student = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    teacher = torch.tensor([[3.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    tau = 2.0
    total = 0.0
    for s, t in zip(student.tolist(), teacher.tolist()):
        zt = sum(math.exp(v / tau) for v in t)
        zs = sum(math.exp(v / tau) for v in s)
        pt = [math.exp(v / tau) / zt for v in t]
        ps = [math.exp(v / tau) / zs for v in s]
        total += sum(a * (math.log(a) - math.log(b)) for a, b in zip(pt, ps))
    want = total / 2  # batchmean
    got = kd_loss(student, F.softmax(teacher / tau, dim=1), tau)
    assert abs(got.item() - want) < 1e-6


def test_total_loss_is_weighted_ce_plus_tau2_kl_and_alpha0_is_the_plain_loss():
    x, samples = _batch()
    alpha, tau = 0.3, 2.0
    model = _build(_kd([_teacher()], alpha=alpha, tau=tau)).train()
    plain = _build(_net()).train()
    plain.load_state_dict(model.state_dict(), strict=True)
    losses = model.loss(x, samples)
    assert set(losses) == {'loss_cls', 'loss_kd'}
    ce = plain.loss(x, samples)['loss']
    with torch.no_grad():
        student = model(x, mode='tensor')
        teacher = model.teachers[0](x, mode='tensor')
    kl = F.kl_div(F.log_softmax(student / tau, 1), F.softmax(teacher / tau, 1),
                  reduction='batchmean')
    assert torch.allclose(losses['loss_cls'], (1 - alpha) * ce, rtol=1e-6)
    assert torch.allclose(losses['loss_kd'], alpha * tau**2 * kl, rtol=1e-5)

    model0 = _build(_kd([_teacher()], alpha=0.0))
    plain.load_state_dict(model0.state_dict(), strict=True)
    got = sum(model0.loss(x, samples).values())
    assert torch.equal(got, plain.loss(x, samples)['loss'])


def test_teachers_stay_frozen_in_eval_mode_through_train_step():
    from mmengine.optim import OptimWrapper
    model = _build(_kd([_teacher()], alpha=0.5))
    model.init_weights()
    teacher = model.teachers[0]
    before = copy.deepcopy(teacher.state_dict())
    student_before = copy.deepcopy(model.state_dict())
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9))
    x, samples = _batch()
    model.train()
    for _ in range(2):
        log = model.train_step(dict(inputs=x * 50, data_samples=samples), wrapper)
        assert 'loss_kd' in log and 'loss_cls' in log
        assert not teacher.training
    for k, v in teacher.state_dict().items():  # running BN statistics included
        assert torch.equal(v, before[k]), k
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    assert any(not torch.equal(v, student_before[k]) for k, v in model.state_dict().items())
    # init_weights leaves the teacher alone
    model.init_weights()
    assert all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())


def test_student_checkpoint_has_no_teacher_keys_and_loads_into_the_plain_student(tmp_path):
    from mmengine.model import ExponentialMovingAverage
    from mmengine.runner import load_checkpoint, save_checkpoint
    model = _build(_kd([_teacher()])).eval()
    n_student = sum(p.numel() for p in _build(_net()).parameters())
    assert sum(p.numel() for p in model.parameters()) == n_student
    path = str(tmp_path / 'kd.pth')
    save_checkpoint(model.state_dict(), path)
    plain = _build(_net()).eval()
    load_checkpoint(plain, path, strict=True, logger='silent')
    x, _ = _batch()
    with torch.no_grad():
        assert torch.equal(plain(x, mode='tensor'), model(x, mode='tensor'))
    ema = ExponentialMovingAverage(model)
    assert ema.module.teachers[0] is model.teachers[0]  # shared, not copied
    assert len(ema.state_dict()) == len(model.state_dict()) + 1  # + steps


def test_teachers_move_with_the_student():
    model = _build(_kd([_teacher()]))
    model.double()
    assert next(model.teachers[0].parameters()).dtype == torch.float64
    x, samples = _batch()
    losses = model.loss(x.double(), samples)
    assert torch.isfinite(sum(losses.values()))


def test_ensemble_averages_softened_probabilities_with_weights():
    model = _build(_kd([dict(_teacher(1.3), weight=3.0), dict(_teacher(1.0), weight=1.0)],
                       tau=3.0))
    x, _ = _batch()
    with torch.no_grad():
        p = [F.softmax(t(x, mode='tensor') / 3.0, 1) for t in model.teachers]
    assert torch.allclose(model.teacher_probs(x), 0.75 * p[0] + 0.25 * p[1], atol=1e-6)


def test_teacher_assistant_chain_from_a_config_file_and_checkpoint(tmp_path):
    """Teacher -> TA (a KD run) -> student, the TA loaded from its KD checkpoint."""
    from mmengine.runner import save_checkpoint
    ta = _build(_kd([_teacher(1.6)], alpha=0.5, width=1.3))
    ta_ckpt = str(tmp_path / 'ta.pth')
    save_checkpoint(ta.state_dict(), ta_ckpt)
    ta_cfg = tmp_path / 'ta.py'
    ta_cfg.write_text(f'model = {_net(width=1.3)!r}\n')
    student = _build(_kd([dict(config=str(ta_cfg), checkpoint=ta_ckpt)], alpha=0.5))
    x, samples = _batch()
    with torch.no_grad():  # the TA is fused after loading: same logits up to float rounding
        assert torch.allclose(student.teachers[0](x, mode='tensor'), ta.eval()(x, mode='tensor'),
                              rtol=1e-4, atol=1e-4)
    assert torch.isfinite(sum(student.loss(x, samples).values()))


def test_teacher_input_is_resized_and_renormalized():
    mean, std = [120.0, 110.0, 100.0], [60.0, 50.0, 40.0]
    t_mean, t_std = [0.5 * 255] * 3, [0.25 * 255] * 3
    model = _build(_kd([dict(_teacher(), input_size=(48, 40), mean=t_mean, std=t_std)],
                       data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor', mean=mean,
                                              std=std)))
    seen = []
    model.teachers[0].backbone.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    raw = torch.rand(2, 3, 32, 32) * 255
    x = (raw - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    model.teacher_probs(x)
    want = F.interpolate((raw - 127.5) / 63.75, size=(48, 40), mode='bilinear',
                         align_corners=False)
    assert seen[0].shape == (2, 3, 48, 40)
    assert torch.allclose(seen[0], want, atol=1e-4)


def test_teacher_from_an_mmpretrain_model_name():
    model = _build(_kd([dict(config='resnet18_8xb16_cifar10')]))
    assert type(model.teachers[0].backbone).__name__ == 'ResNet_CIFAR'
    x, samples = _batch(n=2)
    assert torch.isfinite(sum(model.loss(x, samples).values()))


@pytest.mark.parametrize('kwargs, match', [
    (dict(alpha=1.5), 'alpha must be in'),
    (dict(tau=0.0), 'tau must be positive'),
    (dict(teachers=[]), 'needs at least one teacher'),
    (dict(teachers=[dict(config=_net(), temprature=2)]), "unknown key.*temprature"),
    (dict(teachers=[dict(config=_net(), checkpoint='/no/such/teacher.pth')]),
     'teacher checkpoint .* does not exist'),
    (dict(teachers=[dict(config=_net(), mean=[0, 0, 0])]), 'both `mean` and `std`'),
    (dict(teachers=[dict(config='no_such_model_name')]), 'neither a config file'),
])
def test_bad_arguments_are_refused_with_a_clear_error(kwargs, match):
    args = dict(teachers=[_teacher()], alpha=0.5, tau=1.0)
    args.update(kwargs)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        _build(_kd(**args))


def test_a_teacher_with_other_classes_is_refused():
    model = _build(_kd([dict(config=_net(num_classes=7))]))
    x, samples = _batch()
    with pytest.raises(ValueError, match='teachers predict 7 classes, the student 10'):
        model.loss(x, samples)


def test_a_reparameterizable_teacher_is_fused_with_the_same_logits(tmp_path):
    from helpers import assert_close_rel, randomize_bn
    from mmengine.runner import save_checkpoint

    from mmghost.models.layers.reparam import is_deployed
    trained = _build(_net(width=1.3))
    randomize_bn(trained, inputs=torch.randn(4, 3, 32, 32))
    ckpt = str(tmp_path / 'teacher.pth')
    save_checkpoint(trained.state_dict(), ckpt)
    fused = _build(_kd([dict(config=_net(width=1.3), checkpoint=ckpt)]))
    kept = _build(_kd([dict(config=_net(width=1.3), checkpoint=ckpt, reparameterize=False)]))
    assert is_deployed(fused.teachers[0]) and not is_deployed(kept.teachers[0])
    x = torch.randn(3, 3, 33, 31)
    assert_close_rel(fused.teacher_probs(x), kept.teacher_probs(x), rel=1e-4)
