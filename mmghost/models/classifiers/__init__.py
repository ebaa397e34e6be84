"""Classifiers: the knowledge-distillation ImageClassifier."""
from .kd_classifier import KDImageClassifier, build_teacher, kd_loss

__all__ = ['KDImageClassifier', 'build_teacher', 'kd_loss']
