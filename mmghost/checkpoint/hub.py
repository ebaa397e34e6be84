"""Published GhostNet checkpoints by name or URL, downloaded and converted on the fly.

Wherever OpenMMLab loads weights (``load_from``, ``init_cfg=dict(type='Pretrained', ...)``,
``mmpretrain.get_model``, ``tools/test.py CONFIG CKPT``, inferencers), mmengine's
``CheckpointLoader`` picks a loader by the path's prefix; mmghost adds two:

* ``mmghost://NAME``: a published model by its name (:func:`mmghost.families.all_models`;
  ``..._3rdparty-deploy_in1k`` names load the fused form);
* the exact download URL of a published file (:attr:`mmghost.families.Release.url`), loaded
  in its published form. Every other ``http(s)://`` checkpoint goes to mmengine's own loader,
  unchanged.

The published file is downloaded once into torch's hub cache (``torch.hub.get_dir()/
checkpoints``, where mmengine's URL loader keeps its files), read without unpickling code
(:func:`~mmghost.checkpoint.load_checkpoint_safely`), checked against the SHA-256 its publisher
states (where one is stated), converted by :func:`~mmghost.checkpoint.convert_checkpoint`
(family and width as the name says, strict load into our classifier, timm's logits when timm is
installed) and the result cached next to it, keyed by the source file's SHA-256: a second load
reads no network and converts nothing. Every failure is one :class:`CheckpointError` that
names the model, the URL and what to do; no partial file stays in the cache.

The cache heals: no publisher states a SHA-256 for these releases, so each download's own is
recorded beside it (``FILE.sha256``) and checked when the file is reused; a cached download
that no longer matches, or a converted file that no longer loads, is removed and fetched or
converted again, once, with a warning.

``MMGHOST_CHECKPOINT_MIRROR=http://host:port`` downloads ``https://a/b/c`` from
``http://host:port/a/b/c`` instead (a local mirror of the published files).
"""
import hashlib
import os
import os.path as osp
import urllib.error
import urllib.request
import warnings
from typing import Optional, Tuple

from mmghost.families import PublishedModel, all_models, get_model_entry
from mmghost.families.tables import classification_metafiles
from .atomic import atomic_write
from .safe_load import CheckpointError, load_checkpoint_safely

__all__ = ['SCHEME', 'MIRROR_ENV', 'resolve', 'cache_dir', 'download', 'fetch_converted',
           'load_published', 'register_loaders', 'model_index_path', 'register_model_index']

SCHEME = 'mmghost://'
MIRROR_ENV = 'MMGHOST_CHECKPOINT_MIRROR'
_CHUNK = 1 << 20


def resolve(path: str) -> Optional[PublishedModel]:
    """The published model ``path`` names (``mmghost://NAME`` or a release URL), else None.

    Raises:
        CheckpointError: An ``mmghost://`` name that is not published.
    """
    if path.startswith(SCHEME):
        try:
            return get_model_entry(path[len(SCHEME):])
        except KeyError as e:
            raise CheckpointError(e.args[0]) from None
    for model in all_models().values():
        if not model.deploy and model.release.url == path:
            return model
    return None


def cache_dir() -> str:
    """Where downloads are kept: torch's hub cache (``$TORCH_HOME/hub/checkpoints``)."""
    import torch
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def _file_name(model: PublishedModel) -> str:
    name = model.release.url.rsplit('/', 1)[-1]
    if model.release.source == 'timm':  # every timm hub file is model.safetensors
        name = f'{model.release.publisher_name}.{name.rsplit(".", 1)[-1]}'
    return name


def _download_url(url: str) -> str:
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return url
    return mirror.rstrip('/') + '/' + url.split('://', 1)[-1]


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            h.update(chunk)
    return h.hexdigest()


def _fail(model: PublishedModel, what: str, fix: str) -> CheckpointError:
    return CheckpointError(f'cannot load {model.name}: {what} ({model.release.url}). {fix}')


def download(model: PublishedModel, timeout: float = 60) -> Tuple[str, str]:
    """The published file of ``model`` in the cache (downloaded if absent) and its SHA-256.

    The download is written to a temporary file, checked (complete, expected SHA-256) and only
    then renamed into the cache (:func:`~mmghost.checkpoint.atomic.atomic_write`).
    """
    release = model.release
    folder = cache_dir()
    path = osp.join(folder, _file_name(model))
    recorded = path + '.sha256'  # the digest this download had when it was fetched
    if osp.isfile(path):
        digest = _sha256(path)
        expected = release.sha256
        if expected is None and osp.isfile(recorded):
            with open(recorded) as f:
                expected = f.read().strip()
        if expected is None:  # cached before digests were recorded: record it now
            atomic_write(recorded, digest.encode())
            return path, digest
        if digest == expected:
            return path, digest
        warnings.warn(f'{model.name}: the cached {path} changed since it was downloaded '
                      f'(SHA-256 {digest}, recorded {expected}); fetching it again')
        os.remove(path)  # a stale or damaged copy: fetch it again
    url = _download_url(release.url)
    h = hashlib.sha256()

    def fetch(f) -> None:  # into atomic_write's temporary file; raising removes it
        size = 0
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                expected = response.headers.get('Content-Length')
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    h.update(chunk)
                    size += len(chunk)
        except urllib.error.HTTPError as e:
            raise _fail(model, f'the server answered {e.code} {e.reason} for {url}',
                        'Check the URL (or the mirror); download the file by hand and pass '
                        'its local path instead') from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, 'reason', e)
            raise _fail(model, f'downloading {url} failed: {reason}',
                        'Without network access, download the file elsewhere and pass its '
                        'local path (or set ' + MIRROR_ENV + ' to a mirror)') from None
        if expected is not None and size != int(expected):
            raise _fail(model, f'the download is truncated: {size} of {expected} bytes',
                        'Try again, or download the file by hand and pass its local path')
        if release.sha256 is not None and h.hexdigest() != release.sha256:
            raise _fail(model, f'the downloaded file\'s SHA-256 is {h.hexdigest()}, the '
                        f'publisher states {release.sha256}', 'The file is damaged or not the '
                        'published one; try again or use a trusted copy')

    atomic_write(path, fetch)
    digest = h.hexdigest()
    atomic_write(recorded, digest.encode())
    return path, digest


def fetch_converted(model: PublishedModel, log=None) -> str:
    """The mmghost checkpoint of ``model`` (download and convert it when not cached)."""
    from .convert import ConversionError, convert_checkpoint
    src, digest = download(model)
    dst = osp.join(cache_dir(), 'mmghost', f'{model.name}_{digest}.pth')
    if osp.isfile(dst):
        return dst
    ema = {'state_dict_ema': True, 'state_dict': False}.get(model.release.weights_copy)
    try:
        convert_checkpoint(src, dst, family=model.family.key, width=model.release.width,
                           ema=ema, deploy=model.deploy, log=log or (lambda line: None))
    except ConversionError as e:
        os.remove(src)  # not the published file (another model, damaged): fetch it anew
        if osp.isfile(src + '.sha256'):
            os.remove(src + '.sha256')
        raise _fail(model, f'the file is not what the name says: {e}',
                    'It was removed from the cache; check the name and the mirror, or pass a '
                    'local file') from None
    return dst


def load_published(model: PublishedModel, map_location=None) -> dict:
    """``{'meta', 'state_dict'}`` of ``model`` in our classifier's layout (cached). A cached
    converted file that does not load is removed and converted again, once."""
    path = fetch_converted(model)
    try:
        loaded = load_checkpoint_safely(path)
    except CheckpointError as e:
        warnings.warn(f'{model.name}: the cached {path} does not load ({e}); converting the '
                      f'published file again')
        os.remove(path)
        path = fetch_converted(model)
        try:
            loaded = load_checkpoint_safely(path)
        except CheckpointError as e2:
            raise _fail(model, f'its converted file does not load: {e2}',
                        'Remove the cache folder ' + cache_dir() + ' and try again') from None
    import torch
    if isinstance(map_location, (str, torch.device)) and str(map_location) != 'cpu':
        loaded = _to(loaded, map_location, torch)  # read on the CPU, as load_checkpoint_safely does
    return loaded


def _to(obj, map_location, torch):
    if isinstance(obj, torch.Tensor):
        return obj.to(map_location)
    if isinstance(obj, dict):
        return type(obj)((k, _to(v, map_location, torch)) for k, v in obj.items())
    return obj


#: mmengine's own URL loader, which every URL that is not a GhostNet release goes to.
_http_fallback = None


def load_from_mmghost(filename: str, map_location=None) -> dict:
    """mmengine loader of ``mmghost://NAME``."""
    return load_published(resolve(filename), map_location)


def load_from_http(filename: str, map_location=None, *args, **kwargs):
    """mmengine loader of ``http(s)://``: a GhostNet release converted, anything else as
    mmengine loads it."""
    model = resolve(filename)
    if model is None:
        return _http_fallback(filename, map_location, *args, **kwargs)
    return load_published(model, map_location)


def register_loaders(checkpoint_loader=None) -> None:
    """Add the ``mmghost://`` scheme to mmengine's ``CheckpointLoader`` and route the release
    URLs to :func:`load_published` (other URLs keep mmengine's loader). Idempotent."""
    global _http_fallback
    if checkpoint_loader is None:
        from mmengine.runner.checkpoint import CheckpointLoader as checkpoint_loader
    schemes = checkpoint_loader._schemes
    if schemes.get(SCHEME) is load_from_mmghost:
        return
    _http_fallback = schemes['https://']
    checkpoint_loader.register_scheme(SCHEME, load_from_mmghost, force=True)
    checkpoint_loader.register_scheme(['http://', 'https://'], load_from_http, force=True)


def model_index_path() -> Optional[str]:
    """mmghost's ``model-index.yml``: in ``mmghost/.mim`` when installed, else the checkout's."""
    from mmghost._resources import resource_path
    return resource_path('model-index.yml')


def register_model_index(model_hub=None) -> None:
    """Add mmghost's published classifiers to mmpretrain's ``ModelHub`` (idempotent).

    Only the families' metafiles are registered: the detection configs' metafile, which
    ``model-index.yml`` also imports for ``mim search``, names detectors that mmpretrain's
    ``get_model`` cannot build. ``Weights`` of the published models are the publishers' files,
    which need converting: the registered entries load them as ``mmghost://NAME`` instead (the
    metafiles keep the exact URLs, which ``mim download`` fetches).
    """
    if model_hub is None:
        from mmpretrain.apis import ModelHub as model_hub
    path = model_index_path()
    if path is None or getattr(model_hub, '_mmghost_index', None) == path:
        return
    model_hub._mmghost_index = path
    names = all_models()
    root = osp.dirname(path)
    if not any(n in model_hub._models_dict for n in names):
        for metafile in classification_metafiles():
            model_hub.register_model_index(osp.join(root, metafile), config_prefix=root)
    for name in names:
        if name in model_hub._models_dict:
            model_hub._models_dict[name].weights = SCHEME + name
