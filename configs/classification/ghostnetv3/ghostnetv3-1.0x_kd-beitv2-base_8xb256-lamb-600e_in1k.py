# GhostNetV3 1.0x on ImageNet-1k with the paper's full recipe (arXiv 2404.11202, §5): the
# no-KD config's recipe plus knowledge distillation from a BEiTv2-B teacher, alpha 0.5, tau 1
# (loss (1 - alpha) CE + alpha tau^2 KL). Paper: 77.1% top-1 (EMA weights), 6.1M params and
# 167M MACs once re-parameterized.
# Teacher: mmpretrain's beit-base-p16_beitv2-pre_8xb128-coslr-100e_in1k (BEiTv2-B pre-trained
# and fine-tuned on ImageNet-1k, 85.0% top-1), at 224x224 with the student's normalization.
# Its checkpoint is a local file, never downloaded: checkpoints/beitv2-base_in1k.pth, e.g.
# https://download.openmmlab.com/mmselfsup/1.x/beitv2/beitv2_vit-base-p16_8xb256-amp-coslr-300e_in1k/vit-base-p16_ft-8xb128-coslr-100e_in1k/vit-base-p16_ft-8xb128-coslr-100e_in1k_20221212-d1c0789e.pth
# (beit-base-p16_beitv2-in21k-pre_3rdparty_in1k, 86.5%, is a stronger drop-in teacher).
_base_ = './ghostnetv3-1.0x_8xb256-lamb-600e_in1k.py'

model = dict(
    type='mmghost.KDImageClassifier',
    teachers=[
        dict(config='beit-base-p16_beitv2-pre_8xb128-coslr-100e_in1k',
             checkpoint='checkpoints/beitv2-base_in1k.pth',
             input_size=(224, 224))
    ],
    alpha=0.5,
    tau=1.0)
