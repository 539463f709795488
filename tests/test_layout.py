"""The package's layers import one way: ``utils`` and ``clip`` import nothing from ``models``, ``datasets`` or
``engine``; ``models`` and ``datasets`` nothing from ``engine``, ``evaluation`` or ``apis``. Read from the source
with ``ast`` (every import, module level or inside a function)."""
import ast
import os

from conftest import ROOT

PACKAGE = os.path.join(ROOT, 'reclip_mmseg')
ALLOWED = {
    'utils': {'utils'},
    'clip': {'clip', 'utils'},
    'datasets': {'datasets', 'clip', 'utils'},
    'models': {'models', 'clip', 'utils'},
    'evaluation': {'evaluation', 'clip', 'utils'},
    'engine': {'engine', 'evaluation', 'datasets', 'models', 'clip', 'utils'},
    'apis': {'apis', 'models', 'datasets', 'clip', 'utils'},
}


def package_imports(path: str, layer: str):
    """The top-level reclip_mmseg subpackages a module imports (relative and absolute imports resolved)."""
    rel = os.path.relpath(path, PACKAGE).split(os.sep)  # e.g. ['models', 'reclip_pp', 'head.py']
    with open(path) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = rel[:-1][:len(rel) - 1 - (node.level - 1)] if node.level > 1 else rel[:-1]
                parts = base + (node.module.split('.') if node.module else [])
                if not parts:  # `from .. import x` at the package root
                    parts = [alias.name for alias in node.names]
                found.add(parts[0])
            elif node.module and node.module.startswith('reclip_mmseg.'):
                found.add(node.module.split('.')[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split('.')[1] for a in node.names if a.name.startswith('reclip_mmseg.')}
    return found


def test_layers_import_one_way():
    bad = []
    for layer, allowed in ALLOWED.items():
        for dirpath, _, names in os.walk(os.path.join(PACKAGE, layer)):
            for n in names:
                if n.endswith('.py'):
                    path = os.path.join(dirpath, n)
                    wrong = package_imports(path, layer) - allowed
                    if wrong:
                        bad.append(f'{os.path.relpath(path, ROOT)} imports {sorted(wrong)}')
    assert not bad, '\n'.join(bad)


def test_the_import_reader_sees_relative_and_absolute_imports(tmp_path):
    # the reader on planted modules (a check that cannot fail proves nothing)
    fake = os.path.join(PACKAGE, 'clip', '_planted_for_test.py')
    src = 'from ..models import x\nfrom .loader import y\nimport reclip_mmseg.engine.hooks\ndef f():\n    from ...datasets import z\n'
    try:
        with open(fake, 'w') as f:
            f.write(src)
        assert package_imports(fake, 'clip') == {'models', 'clip', 'engine', 'datasets'}
    finally:
        os.remove(fake)
