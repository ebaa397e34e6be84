"""detections_to_samples: a graph's fixed detection slots -> mmdet data samples in the original
image's pixels, clipped as the exported head's mmdet ``predict`` clips (YOLOX does not)."""
import numpy as np
import pytest

pytest.importorskip('mmdet')


def _sample():
    from mmdet.structures import DetDataSample
    # A 200 x 100 picture resized by 0.5 to 100 x 50.
    return DetDataSample(metainfo=dict(img_shape=(50, 100), ori_shape=(100, 200),
                                       scale_factor=(0.5, 0.5)))


def test_boxes_are_clipped_to_the_resized_image_unless_the_head_does_not_clip():
    from mmghost.runtime.preprocess import detections_to_samples
    boxes = np.array([[[-10., 5, 120, 60], [10, 10, 20, 20], [0, 0, 0, 0]]], np.float32)
    scores = np.array([[0.9, 0.5, 0.0]], np.float32)
    labels = np.array([[2, 0, -1]])
    clipped = detections_to_samples(boxes, scores, labels, [_sample()])[0].pred_instances
    assert len(clipped) == 2  # the empty slot is dropped
    np.testing.assert_allclose(clipped.bboxes.numpy(), [[0, 10, 200, 100], [20, 20, 40, 40]])
    assert clipped.labels.tolist() == [2, 0]
    free = detections_to_samples(boxes, scores, labels, [_sample()],
                                 clip=False)[0].pred_instances
    np.testing.assert_allclose(free.bboxes.numpy(), [[-20, 10, 240, 120], [20, 20, 40, 40]])
