"""The package's layering: which subpackages each one may import, and what importing it loads.

The dependency direction (every other edge is refused):

    families -> (nothing)         registry -> (nothing)       datasets -> checkpoint (atomic)
    models         -> families, registry
    checkpoint     -> families, models, registry
    engine         -> checkpoint, datasets, models, registry
    reparameterize -> checkpoint, models, registry
    runtime        -> engine, models, reparameterize, registry
    export         -> checkpoint, models, reparameterize, runtime
    quantize       -> checkpoint, models, runtime
    deploy         -> export, quantize, reparameterize, runtime   (names only, re-exported)
    analysis       -> checkpoint, engine, export, families, models, quantize, reparameterize,
                      registry, runtime

The root (``mmghost/__init__.py`` and its import hooks) wires ``checkpoint.safe_load`` and
``checkpoint.hub`` into mmengine (and mmpretrain) when their modules are imported, so those
two (and the ``families`` and ``checkpoint.atomic`` they use) may appear anywhere.
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
    'datasets': {'checkpoint'},  # its atomic writer only (torch-free)
    'models': {'families', 'registry'},
    'checkpoint': {'families', 'models', 'registry'},
    'engine': {'checkpoint', 'datasets', 'models', 'registry'},
    'reparameterize': {'checkpoint', 'models', 'registry'},
    'runtime': {'engine', 'models', 'reparameterize', 'registry'},
    'export': {'checkpoint', 'models', 'reparameterize', 'runtime'},
    'quantize': {'checkpoint', 'models', 'runtime'},
    'deploy': {'export', 'quantize', 'reparameterize', 'runtime'},
    'analysis': {'checkpoint', 'engine', 'export', 'families', 'models', 'quantize',
                 'reparameterize', 'registry', 'runtime'},
}
ROOT_WIRED = {'mmghost.checkpoint', 'mmghost.checkpoint.safe_load', 'mmghost.checkpoint.hub',
              'mmghost.checkpoint.atomic'}  # hub writes its downloads with it
ROOT_WIRED_PREFIXES = ('mmghost.families', )  # what checkpoint.hub itself reads
# Names the root package exports, and where they live.
ROOT_ATTRS = {'__version__': 'version', 'switch_to_deploy': 'models',
              'optimize_for_inference': 'reparameterize'}
# Package-level helpers every subpackage may use.
SHARED = {'_lazy', '_resources', 'version'}
# Root modules: what ``import mmghost`` runs (the changes to other libraries, scheduled).
ROOT_MODULES = {'library_changes', '_import_hooks'}


def _reachable(layer: str) -> set:
    """The layers ``layer`` may load, directly or through the layers it imports."""
    out, todo = set(), list(ALLOWED[layer])
    while todo:
        dep = todo.pop()
        if dep not in out:
            out.add(dep)
            todo.extend(ALLOWED[dep])
    return out


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
        if module.count('.') == 0 or layer in ROOT_MODULES | SHARED:
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


def _module_graph():
    """``{module: modules it imports}`` over every mmghost module (module level and inside
    functions); ``from P import a`` is an edge to ``P.a`` when that is a module, else to ``P``."""
    modules = dict((m, p) for p, m in _modules())
    graph = {}
    for module, path in modules.items():
        deps = set()
        for name in _imports(path, module):
            while name not in modules and '.' in name:
                name = name.rsplit('.', 1)[0]
            if name in modules and name != module:
                deps.add(name)
        graph[module] = deps
    return graph


def test_no_module_imports_itself_back():
    """No import cycle between single modules either (inside a subpackage, and through
    imports deferred into functions, which hide a cycle until the day they move up)."""
    graph = _module_graph()
    done, path = set(), []

    def visit(node):
        if node in path:
            raise AssertionError('import cycle: ' + ' -> '.join(path[path.index(node):] + [node]))
        if node in done:
            return
        path.append(node)
        for dep in sorted(graph[node]):
            visit(dep)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


@pytest.mark.parametrize('layer', sorted(ALLOWED))
def test_importing_a_subpackage_loads_only_what_it_may(layer):
    """Every module of the subpackage (its lazily exported names too) is imported in a fresh
    interpreter; what that loads of mmghost stays inside the layers the subpackage may use."""
    modules = sorted(m for _, m in _modules() if _layer(m) == layer)
    code = ('import importlib, sys\n'
            f'for name in {modules!r}:\n'
            '    mod = importlib.import_module(name)\n'
            "    for attr in getattr(mod, '__all__', ()):\n"
            '        getattr(mod, attr)\n'
            "print(' '.join(m for m in sys.modules if m.startswith('mmghost.')))")
    out = subprocess.run([sys.executable, '-c', code], cwd='/', capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = {m for m in out.stdout.split()}
    assert set(modules) <= loaded
    layers = {_layer(m) for m in loaded if m not in ROOT_WIRED and not m.startswith(
        ROOT_WIRED_PREFIXES)} - {layer} - SHARED - ROOT_MODULES
    assert layers <= _reachable(layer), (layer, sorted(layers - _reachable(layer)))


@pytest.mark.parametrize('module', ['mmghost', 'mmghost.families', 'mmghost.runtime',
                                    'mmghost.runtime.backends', 'mmghost.deploy',
                                    'mmghost.analysis.exported_timing', 'mmghost.analysis.timing'])
def test_light_modules_do_not_import_torch(module):
    code = f"import sys, {module}\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, '-c', code], cwd='/', capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == 'False', f'importing {module} loaded torch'
