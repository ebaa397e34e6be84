"""The package's layering: which subpackages each one may import, and what importing it loads.

The dependency direction (every other edge is refused):

    families -> (nothing)         registry -> (nothing)       datasets -> (nothing)
    models     -> families, registry
    checkpoint -> families, models, registry
    engine     -> checkpoint, models, registry
    deploy     -> checkpoint, engine, families, models, registry
    analysis   -> checkpoint, deploy, engine, families, models, registry

The root (``mmghost/__init__.py`` and its import hooks) wires ``checkpoint.safe_load`` and
``checkpoint.hub`` into mmengine (and mmpretrain) when their modules are imported, so those
two (and the ``families`` they read) may appear anywhere.
"""
import ast
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PKG = osp.join(REPO, 'mmghost')

ALLOWED = {
    'families': set(),
    'registry': set(),
    'datasets': set(),
    'models': {'families', 'registry'},
    'checkpoint': {'families', 'models', 'registry'},
    'engine': {'checkpoint', 'models', 'registry'},
    'deploy': {'checkpoint', 'engine', 'families', 'models', 'registry'},
    'analysis': {'checkpoint', 'deploy', 'engine', 'families', 'models', 'registry'},
}
ROOT_WIRED = {'mmghost.checkpoint', 'mmghost.checkpoint.safe_load', 'mmghost.checkpoint.hub'}
ROOT_WIRED_PREFIXES = ('mmghost.families', )  # what checkpoint.hub itself reads
# Names the root package exports, and where they live.
ROOT_ATTRS = {'__version__': 'version', 'switch_to_deploy': 'models',
              'optimize_for_inference': 'deploy'}
# Package-level helpers every subpackage may use.
SHARED = {'_lazy', 'version'}


def _layer(name: str) -> str:
    return name.split('.')[1] if name.count('.') else ''


def _imports(path: str, module: str):
    """Every mmghost module ``path`` imports, at module level or inside functions."""
    tree = ast.parse(open(path).read(), path)
    package = module if path.endswith('__init__.py') else module.rsplit('.', 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                prefix = '.'.join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ''
            names = [prefix] + [f'{prefix}.{a.name}' for a in node.names]
        else:
            continue
        for name in names:
            if name == 'mmghost' or name.startswith('mmghost.'):
                yield name


def _modules():
    for root, _, files in os.walk(PKG):
        for f in files:
            if f.endswith('.py'):
                path = osp.join(root, f)
                rel = osp.relpath(path, REPO)[:-3].replace(os.sep, '.')
                yield path, rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def test_the_allowed_graph_has_no_cycle():
    done, visiting = set(), set()

    def visit(node):
        assert node not in visiting, f'cycle through {node}'
        if node in done:
            return
        visiting.add(node)
        for dep in ALLOWED[node]:
            visit(dep)
        visiting.discard(node)
        done.add(node)

    for node in ALLOWED:
        visit(node)


def test_every_import_follows_the_direction():
    bad = []
    seen = set()
    for path, module in _modules():
        layer = _layer(module)
        if module.count('.') == 0 or layer.startswith('_') or layer == 'version':
            continue  # the root
        seen.add(layer)
        assert layer in ALLOWED, f'{module}: a new subpackage needs its place in ALLOWED'
        for name in _imports(path, module):
            target = _layer(name)
            target = ROOT_ATTRS.get(target, target)
            if target in ('', layer) or target in SHARED:
                continue
            if target not in ALLOWED[layer]:
                bad.append(f'{module} imports {name} ({layer} -> {target})')
    assert not bad, '\n'.join(bad)
    assert seen == set(ALLOWED)


@pytest.mark.parametrize('layer', sorted(ALLOWED))
def test_importing_a_subpackage_loads_only_what_it_may(layer):
    code = (f'import sys, mmghost.{layer}\n'
            "print(' '.join(m for m in sys.modules if m.startswith('mmghost.')))")
    out = subprocess.run([sys.executable, '-c', code], cwd='/', capture_output=True, text=True,
                         check=True).stdout.split()
    loaded = {_layer(m) for m in out if m not in ROOT_WIRED and not m.startswith(
        ROOT_WIRED_PREFIXES)} - {layer} - SHARED - {'_import_hooks'}
    assert loaded <= ALLOWED[layer], (layer, sorted(loaded - ALLOWED[layer]))


@pytest.mark.parametrize('module', ['mmghost', 'mmghost.families', 'mmghost.deploy.runtime',
                                    'mmghost.analysis.exported_timing', 'mmghost.analysis.timing'])
def test_light_modules_do_not_import_torch(module):
    code = f"import sys, {module}\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, '-c', code], cwd='/', capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == 'False', f'importing {module} loaded torch'
