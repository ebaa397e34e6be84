"""The package stays a size a newcomer can hold: no subpackage above a quarter of its lines, no
module above 450 lines, and every subpackage named in docs/architecture.md's tree."""
import os
import os.path as osp
import re

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PKG = osp.join(REPO, 'mmghost')
MAX_SHARE, MAX_MODULE_LINES = 0.25, 450


def _lines(path: str) -> int:
    with open(path) as f:
        return sum(1 for _ in f)


def _modules():
    for root, dirs, files in os.walk(PKG):
        dirs[:] = [d for d in dirs if not d.startswith('.') and d != '__pycache__']
        for f in files:
            if f.endswith('.py'):
                yield osp.join(root, f)


def _subpackages():
    for root, dirs, _ in os.walk(PKG):
        dirs[:] = [d for d in dirs if not d.startswith('.') and d != '__pycache__']
        for d in dirs:
            if osp.isfile(osp.join(root, d, '__init__.py')):
                yield osp.relpath(osp.join(root, d), PKG).replace(os.sep, '/')


def test_no_subpackage_holds_more_than_a_quarter_of_the_lines():
    total, by_top = 0, {}
    for path in _modules():
        n = _lines(path)
        total += n
        rel = osp.relpath(path, PKG).split(os.sep)
        if len(rel) > 1:
            by_top[rel[0]] = by_top.get(rel[0], 0) + n
    too_big = {k: f'{v / total:.0%}' for k, v in by_top.items() if v > MAX_SHARE * total}
    assert not too_big, f'subpackages above {MAX_SHARE:.0%} of {total} lines: {too_big}'


def test_no_module_above_450_lines():
    long = {osp.relpath(p, REPO): _lines(p) for p in _modules()
            if _lines(p) > MAX_MODULE_LINES}
    assert not long, long


def test_every_subpackage_is_in_the_architecture_tree():
    doc = open(osp.join(REPO, 'docs', 'architecture.md')).read()
    tree = doc.split('```')[1]  # the first code block: the layout
    named, stack = set(), []
    for line in tree.splitlines():
        m = re.match(r'^(\s*)([\w.]+)/', line)
        if m:
            depth = len(m.group(1)) // 2
            stack[depth:] = [m.group(2)]
            named.add('/'.join(stack[1:]) if stack[0] == 'mmghost' else '')
    missing = sorted(set(_subpackages()) - named)
    assert not missing, f'docs/architecture.md does not name {missing}'
