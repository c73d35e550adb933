import gzip
import struct

import numpy as np
import pytest
import torch

from lib import data as D


def test_mnist5k_shapes_labels_balance(mnist5k):
    d = mnist5k
    assert d.x_train.shape == (4000, 1, 28, 28) and d.x_test.shape == (1000, 1, 28, 28)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.y_train.min() == 0 and d.y_train.max() == 9 and d.num_classes == 10
    assert torch.bincount(d.y_train).tolist() == [400] * 10
    assert torch.bincount(d.y_test).tolist() == [100] * 10
    assert abs(d.x_train.mean().item()) < 0.1 and abs(d.x_train.std().item() - 1) < 0.1  # normalised
    # train and test are disjoint images
    tr = {hash(x.numpy().tobytes()) for x in d.x_train}
    assert sum(hash(x.numpy().tobytes()) in tr for x in d.x_test) < 5  # MNIST has a few exact duplicates at most


def test_split_is_deterministic(mnist5k):
    D.load_dataset.cache_clear()
    again = D.load_dataset("mnist5k")
    assert torch.equal(again.x_train, mnist5k.x_train) and torch.equal(again.y_test, mnist5k.y_test)


def test_unknown_dataset_names_choices():
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar100'.*'mnist5k'.*'fashion-mnist'.*'cifar10'"):
        D.load_dataset("cifar100")


def test_batches_depend_only_on_seed_and_iteration():
    a = D.batch_indices(1000, 100, seed=3, iteration=17)
    D._epoch_permutation.cache_clear()
    assert torch.equal(a, D.batch_indices(1000, 100, seed=3, iteration=17))
    assert not torch.equal(a, D.batch_indices(1000, 100, seed=4, iteration=17))
    # each epoch visits every example once (10 batches of 100)
    epoch = torch.cat([D.batch_indices(1000, 100, 3, i) for i in range(10, 20)])
    assert sorted(epoch.tolist()) == list(range(1000))
    assert not torch.equal(epoch, torch.cat([D.batch_indices(1000, 100, 3, i) for i in range(0, 10)]))


def test_batch_size_larger_than_data():
    with pytest.raises(ValueError, match="batch_size"):
        D.batch_indices(10, 128, 0, 0)


def test_augmentation_deterministic_and_shifts():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    a = D.augment(x, pad=2, hflip=True, seed=1, iteration=5)
    assert a.shape == x.shape
    assert torch.equal(a, D.augment(x, pad=2, hflip=True, seed=1, iteration=5))
    assert not torch.equal(a, D.augment(x, pad=2, hflip=True, seed=1, iteration=6))
    assert torch.equal(D.augment(x, pad=0, hflip=False, seed=1, iteration=5), x)
    # a crop is a shifted copy: every non-padding value comes from the same channel of the same image
    for i in range(2):
        vals = set(a[i].flatten().tolist()) - {0.0}
        assert vals <= set(x[i].flatten().tolist())


def test_probe_indices_balanced_fixed(mnist5k):
    idx = D.probe_indices(mnist5k, 200)
    assert len(idx) == 200 and len(set(idx.tolist())) == 200
    labels = mnist5k.y_train[idx]
    assert torch.bincount(labels).tolist() == [20] * 10
    assert torch.all(labels[1:] >= labels[:-1]), "sorted by class"
    assert torch.equal(idx, D.probe_indices(mnist5k, 200))
    assert torch.bincount(mnist5k.y_train[D.probe_indices(mnist5k, 25)]).tolist() == [3] * 5 + [2] * 5
    with pytest.raises(ValueError, match="n_probe"):
        D.probe_indices(mnist5k, 5)


def _write_idx(path, arr):
    arr = np.asarray(arr, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 8, arr.ndim) + b"".join(struct.pack(">I", s) for s in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.tobytes())


def test_fashion_mnist_from_data_dir(tmp_path):
    rng = np.random.default_rng(0)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 255, (30, 28, 28)))
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(30) % 10)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 255, (20, 28, 28)))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 10)
    d = D.load_dataset("fashion-mnist", data_dir=str(tmp_path), download=False)
    assert d.x_train.shape == (30, 1, 28, 28) and d.x_test.shape == (20, 1, 28, 28)
    assert d.y_train.tolist() == (np.arange(30) % 10).tolist()


def test_fashion_mnist_ships_with_the_repository_intact(tmp_path):
    """The shipped idx files are the recorded originals (SHA-256) and load offline from an empty
    data folder: 60,000 training and 10,000 test images, balanced."""
    import hashlib
    sums = dict(reversed(line.split()) for line in (D.SHIPPED_FASHION_DIR / "SHA256SUMS").read_text().splitlines())
    assert len(sums) == 4
    for name, digest in sums.items():
        assert hashlib.sha256((D.SHIPPED_FASHION_DIR / name).read_bytes()).hexdigest() == digest, name
    assert "MIT" in (D.SHIPPED_FASHION_DIR / "LICENSE").read_text()
    d = D.load_dataset("fashion-mnist", data_dir=str(tmp_path), download=False)
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(d.y_train).tolist() == [6000] * 10


def test_cifar10_reads_torchvisions_layout(tmp_path):
    """CIFAR-10 in torchvision's Python layout (pickled batches, channel-first rows), written here
    small: images come back (N, 3, 32, 32) normalised, pixels in place, labels in order."""
    import pickle
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    rows = {n: rng.integers(0, 256, (4, 3072), dtype=np.uint8) for n in names}
    for k, n in enumerate(names):
        with open(folder / n, "wb") as f:
            pickle.dump({"data": rows[n], "labels": [(k + i) % 10 for i in range(4)]}, f)
    d = D.load_dataset("cifar10", data_dir=str(tmp_path), download=False)
    assert d.x_train.shape == (20, 3, 32, 32) and d.x_test.shape == (4, 3, 32, 32) and d.hflip
    assert d.y_train[:4].tolist() == [0, 1, 2, 3] and d.y_test.tolist() == [5, 6, 7, 8]
    mean, std = D._STATS["cifar10"]
    red = rows["data_batch_1"][0, :1024].reshape(32, 32) / 255.0  # the first image's red channel
    assert np.allclose(d.x_train[0, 0].numpy(), (red - mean[0]) / std[0], atol=1e-6)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_offline_missing_data_says_what_to_do(tmp_path, name):
    with pytest.raises(D.DataUnavailable, match=rf"(?s)dataset '{name}' is not on this machine.*offline.*{tmp_path}.*mnist5k"):
        D.load_dataset(name, data_dir=str(tmp_path), download=False)


@pytest.mark.parametrize("name,cls", [("mnist", "MNIST"), ("cifar10", "CIFAR10")])
def test_failed_download_says_what_to_do(tmp_path, monkeypatch, name, cls):
    import urllib.error

    import torchvision.datasets as tvd

    def offline(root, train=True, download=False):
        if download:
            raise urllib.error.URLError("network is unreachable")
        raise RuntimeError("Dataset not found. You can use download=True to download it")

    monkeypatch.setattr(tvd, cls, offline)
    with pytest.raises(D.DataUnavailable, match=r"(?s)downloading it failed \(URLError.*offline"):
        D.load_dataset(name, data_dir=str(tmp_path), download=True)


def test_augmented_batches_have_plain_nchw_strides():
    # one-channel crops used to come back with channels-last strides, on which oneDNN's
    # convolution backward deadlocked; the batch must have fresh NCHW strides
    x = torch.randn(4, 1, 28, 28)
    a = D.augment(x, pad=2, hflip=False, seed=0, iteration=0)
    assert a.stride() == (784, 784, 28, 1)
