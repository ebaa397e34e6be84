"""``mmghost.deploy``: every name a deployment uses from one import, each the object of its
job's package; the module paths of the release before still import, as the moved modules,
with a DeprecationWarning."""
import importlib
import subprocess
import sys

import pytest

import mmghost.deploy as facade

MOVED = {
    'mmghost.deploy.reparameterize': 'mmghost.reparameterize.deploy_form',
    'mmghost.deploy.inference_form': 'mmghost.reparameterize.inference_form',
    'mmghost.deploy.onnx_export': 'mmghost.export.onnx_export',
    'mmghost.deploy.detector_export': 'mmghost.export.detector_export',
    'mmghost.deploy.detector_ops': 'mmghost.export.detector_ops',
    'mmghost.deploy.onnx_check': 'mmghost.export.onnx_check',
    'mmghost.deploy.quantize': 'mmghost.quantize.post_training',
    'mmghost.deploy.runtime': 'mmghost.runtime.backends',
    'mmghost.deploy.preprocess': 'mmghost.runtime.preprocess',
    'mmghost.deploy.deployed_model': 'mmghost.runtime.deployed_model',
    'mmghost.deploy.draw': 'mmghost.runtime.draw',
}
# The names the release before exported from mmghost.deploy (its __all__).
OLD_NAMES = (
    'CheckpointFormError DeployError reparameterizable_parts make_deploy_config load_weights '
    'load_deploy_form load_model tensor_outputs max_relative_difference '
    'reparameterize_checkpoint compare_forms OnnxExportModule export_onnx export_graph '
    'min_input_size dfc_input_sizes resize_attributes export_checked check_onnx compare_onnx '
    'DetectorExportModule export_detector DeployedModel Deployment check_model_file '
    'check_test_inputs deployed_config match_detections compare_predictions LAYER_GROUPS '
    'DEFAULT_KEEP_FLOAT CALIBRATION_METHODS calibration_batches float_nodes quantize_model '
    'Preprocessor detections_to_samples logits_to_samples draw_predictions top_classes '
    'optimize_for_inference BACKENDS ort_session read_metadata save_openvino '
    'create_backend').split()


def test_every_name_of_the_release_before_is_its_homes_object():
    assert set(OLD_NAMES) <= set(facade.__all__)
    for name in OLD_NAMES:
        obj = getattr(facade, name)
        home = obj.__module__ if hasattr(obj, '__module__') and callable(obj) else None
        if home:  # defined in a job package, not in mmghost.deploy
            assert home.split('.')[1] in ('reparameterize', 'export', 'quantize', 'runtime'), \
                (name, home)
            assert getattr(importlib.import_module(home), name) is obj
    with pytest.raises(AttributeError, match='no_such_name'):
        facade.no_such_name


@pytest.mark.parametrize('old,new', sorted(MOVED.items()))
def test_a_moved_module_path_imports_the_module_with_a_warning(old, new):
    code = ('import importlib, sys, warnings\n'
            'warnings.simplefilter("error", DeprecationWarning)\n'
            'try:\n'
            f'    importlib.import_module({old!r})\n'
            'except DeprecationWarning as w:\n'
            '    print("warned:", w)\n'
            'warnings.simplefilter("ignore")\n'
            f'old, new = importlib.import_module({old!r}), importlib.import_module({new!r})\n'
            'print(old is new, new.__name__)')
    out = subprocess.run([sys.executable, '-c', code], cwd='/', capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0] == f'warned: {old} moved to {new}; import it from there ({old} is kept ' \
                       'for one release)'
    assert lines[1] == f'True {new}'
