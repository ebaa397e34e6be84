"""What a benchmark's model spec means: ``MODEL[@FORM]``, the rows each form gives, and the
errors a run reports.

``MODEL`` is a config path, an ``mmdet::``/``mmpretrain::``/``mmghost::`` config name or
``timm:NAME``; ``FORM`` one of :data:`FORMS`: ``@deploy`` (re-parameterized), ``@both``
(training and deploy form, two rows), ``@inference`` (deploy form with BNs folded, NHWC: the
fastest eager form), ``@ort`` (the deploy form exported to ONNX as ``pytorch2onnx.py`` writes
it, GhostNets in their channel-aligned form, and run by ONNX Runtime), ``@ort-plain`` (the
same in the plain channel layout), ``@ort-int8``, ``@openvino`` (the plain layout, which
OpenVINO runs faster), ``@openvino-int8``, ``@exported`` (``ort`` to ``openvino-int8``) or
``@ncnn``
(the deploy form converted by pnnx and run by ncnn; a detector's graph ends at its head's raw
maps, so its row times the network without the decoding and NMS that follow it).
"""
import os.path as osp
import re
from dataclasses import dataclass
from typing import Tuple

__all__ = ['BenchmarkError', 'Unsupported', 'first_line', 'FORMS', 'EXPORTED', 'ModelSpec',
           'parse_spec', 'model_label']

#: form suffix -> the rows it gives
FORMS = {'': ('train', ), 'train': ('train', ), 'deploy': ('deploy', ),
         'both': ('train', 'deploy'), 'ort': ('ort', ), 'ort-int8': ('ort-int8', ),
         'openvino': ('openvino', ), 'openvino-int8': ('openvino-int8', ),
         'exported': ('ort', 'ort-int8', 'openvino', 'openvino-int8'), 'ncnn': ('ncnn', ),
         'inference': ('inference', ), 'ort-plain': ('ort-plain', )}
#: Exported forms: ``(runtime, precision)``.
EXPORTED = {'ort': ('onnxruntime', 'fp32'), 'ort-int8': ('onnxruntime', 'int8'),
            'ort-plain': ('onnxruntime', 'fp32'),
            'openvino': ('openvino', 'fp32'), 'openvino-int8': ('openvino', 'int8'),
            'ncnn': ('ncnn', 'fp32')}


class BenchmarkError(ValueError):
    """A bad model spec or option; the message is meant for the user."""


class Unsupported(Exception):
    """A row that cannot run (its reason becomes the table's entry)."""


def first_line(e: BaseException, limit: int = 300) -> str:
    """The first line of an error's message (a table cell's worth)."""
    text = str(e).strip().splitlines()
    return (text[0] if text else '')[:limit]


@dataclass
class ModelSpec:
    spec: str  # as given, e.g. 'configs/x.py@both'
    name: str  # the model part: config path, mmdet::NAME or timm:NAME
    forms: Tuple[str, ...]  # 'train', 'deploy', 'ort'

    @property
    def is_timm(self) -> bool:
        return self.name.startswith('timm:')


def parse_spec(spec: str) -> ModelSpec:
    """``MODEL[@FORM]`` -> :class:`ModelSpec` (raises BenchmarkError)."""
    name, sep, form = spec.rpartition('@')
    if not sep:
        name, form = spec, ''
    if form not in FORMS or (sep and not form):
        raise BenchmarkError(
            f'unknown form {form!r} in {spec!r}; use MODEL (training form), MODEL@deploy, '
            'MODEL@both (training and deploy rows), MODEL@ort / @ort-int8 (deploy form in ONNX '
            'Runtime, fp32 / INT8), MODEL@ort-plain (fp32, GhostNets not channel-aligned), '
            'MODEL@openvino / @openvino-int8, MODEL@exported (the '
            'four exported forms), MODEL@ncnn or MODEL@inference (eager deploy form, BN folded, '
            'NHWC)')
    if name.startswith('timm:'):
        if not name[len('timm:'):].strip(':'):
            raise BenchmarkError(f'{spec!r}: give a timm model name, e.g. timm:ghostnetv3_100')
    elif '::' not in name and not osp.isfile(name):
        raise BenchmarkError(
            f'{name!r}: no such config file (give a config path, an mmdet::/mmpretrain::/'
            'mmghost:: config name or timm:NAME)')
    return ModelSpec(spec, name, FORMS[form])


def model_label(name: str) -> str:
    """Short row name: ``timm:NAME`` as is; a config's file stem without the schedule part
    (``ghostnetv3-1.0x_8xb256-lamb-600e_in1k`` -> ``ghostnetv3-1.0x``)."""
    if name.startswith('timm:'):
        return 'timm:' + name[len('timm:'):].strip(':')
    stem = re.sub(r'\.py$', '', osp.basename(name.split('::')[-1]))
    return re.sub(r'_\d+xb\d+.*$', '', stem)
