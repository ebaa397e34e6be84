"""Install mmghost.

The configs and tools are shipped inside the package under ``mmghost/.mim`` (OpenMMLab's
convention) so that ``_base_ = 'mmghost::...'`` works from a user's own config. In a source
checkout the folder holds symlinks to the top-level ``configs/`` and ``tools/``; sdists and
wheels get copies.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

PTH_FILE = 'mmghost-mim.pth'

HERE = osp.dirname(osp.abspath(__file__))
MIM_FILES = ['configs', 'tools', 'model-index.yml']


def read_version():
    ns = {}
    with open(osp.join(HERE, 'mmghost', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), ns)
    return ns['__version__']


def read_requirements(name):
    """The requirements of ``requirements/NAME`` (following ``-r other.txt`` lines)."""
    reqs = []
    with open(osp.join(HERE, 'requirements', name)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line.startswith('-r '):
                reqs += read_requirements(line[3:].strip())
            elif line:
                reqs.append(line)
    return reqs


def add_mim_extension():
    """Populate ``mmghost/.mim`` with the configs and tools.

    ``sdist``/``bdist_wheel`` copy them so the installed package is self-contained; every other
    mode (``develop``, PEP 660 editable installs, plain ``install`` from a checkout) symlinks
    them so edits in the checkout are seen at once.
    """
    copy = any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel'))
    mim_root = osp.join(HERE, 'mmghost', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        dst = osp.join(mim_root, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if copy and osp.isfile(src):
            shutil.copyfile(src, dst)
        elif copy:
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            os.symlink(osp.relpath(src, mim_root), dst, target_is_directory=osp.isdir(src))


class BuildPyWithPth(build_py):
    """Also put ``mmghost-mim.pth`` at the root of site-packages (mmghost/library_changes.py
    says what it does and how to turn it off)."""

    def run(self):
        super().run()
        self.copy_file(osp.join(HERE, PTH_FILE), osp.join(self.build_lib, PTH_FILE),
                       preserve_mode=0)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmghost',
        version=read_version(),
        description='The GhostNet family (V1, V2, V3, RepGhost, V3-Small) for OpenMMLab',
        long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read()
        if osp.exists(osp.join(HERE, 'README.md')) else '',
        long_description_content_type='text/markdown',
        license='Apache-2.0',
        python_requires='>=3.8',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'tests.*', 'benchmarks')),
        include_package_data=True,
        package_data={
            'mmghost': ['.mim/model-index.yml', '.mim/configs/**/*.py', '.mim/configs/**/*.yml',
                        '.mim/tools/**/*',
                        '.mim/tools/*']
        },
        install_requires=read_requirements('runtime.txt'),
        extras_require={
            'mm': read_requirements('mminstall.txt'),
            'tests': read_requirements('tests.txt'),
            'deploy': read_requirements('deploy.txt'),
            'plot': read_requirements('plot.txt'),
            'demo': read_requirements('demo.txt'),
            'optional': read_requirements('optional.txt'),
        },
        cmdclass={'build_py': BuildPyWithPth},
        zip_safe=False,
    )
