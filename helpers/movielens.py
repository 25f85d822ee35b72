"""MovieLens 100K ratings for ex10: fetching, loading and index helpers.

The course keeps the ratings in one CSV file with the header ``Id,Prediction``
and one line per rating, ``r<item>_c<user>,<rating>``. The ids are 1-based:
an item is a movie (1 to 1682) and a user is a rater (1 to 943). The rating
is an integer from 1 to 5. ``load_data`` turns that file into the ratings
matrix: a SciPy sparse matrix with items as rows and users as columns, shape
(1682, 943), where 0 means "not rated".

``fetch_movielens`` builds the file in ``helpers.paths.data_dir()`` from the
first source that works:

1. the cached file, when it passes validation;
2. a copy of GroupLens' ``ml-100k.zip`` placed in the data folder by hand;
3. the GroupLens download (skipped when ``helpers.paths.offline()`` is true);
4. the offline copy: ``ml-100k.inter`` inside the ``recbole==1.2.1`` wheel,
   fetched from the package index with pip. RecBole ships the 100,000
   ratings of GroupLens' ``u.data`` in the same columns, with a header line.

NOTE: validation checks the counts, the ids and the rating values. Whether
every rating of the RecBole copy equals the one in GroupLens' ``u.data`` has
not been checked file to file.
"""

import io
import logging
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from helpers.paths import DATA_DIR_ENV, data_dir, offline

logger = logging.getLogger(__name__)

CSV_NAME = "movielens100k.csv"
CSV_HEADER = "Id,Prediction"
# One line beside the CSV file names the source it was built from.
SOURCE_NAME = "movielens100k.source.txt"

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
GROUPLENS_ZIP_NAME = "ml-100k.zip"
GROUPLENS_MEMBER = "ml-100k/u.data"
RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"

NUM_RATINGS = 100_000
NUM_ITEMS = 1682
NUM_USERS = 943

DOWNLOAD_TIMEOUT_S = 60
PIP_TIMEOUT_S = 300

# A course CSV line, e.g. "r242_c196,3": item, user, rating.
_COURSE_LINE = re.compile(r"^r(\d+)_c(\d+),([^,\s]+)$", re.MULTILINE)
# A line of u.data or ml-100k.inter: user, item, rating, timestamp.
_TAB_LINE = re.compile(r"^(\d+)\t(\d+)\t([^\t\s]+)\t([^\t\s]+)$", re.MULTILINE)

# Exceptions of a failing source: network and file errors (OSError, which
# includes urllib's URLError), bad content (ValueError, BadZipFile), a member
# missing from an archive (KeyError) and pip failures (SubprocessError,
# RuntimeError).
_SOURCE_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    zipfile.BadZipFile,
    subprocess.SubprocessError,
    RuntimeError,
)


class MovieLensUnavailableError(RuntimeError):
    """No source of MovieLens 100K could be read."""


# ---------------------------------------------------------------------------
# Fetching
# ---------------------------------------------------------------------------


def fetch_movielens():
    """Return the path of the validated MovieLens 100K course CSV file.

    Tries the sources listed in the module docstring in order and logs one
    INFO line naming the source used. A cached file that fails validation
    (truncated, edited, wrong header) is logged as a warning and rebuilt,
    never loaded. The file is replaced atomically, so a reader never sees a
    half-written one.

    Raises:
        MovieLensUnavailableError: when no source works. The message lists
            every source tried with its error and explains how to place the
            data by hand.
    """
    folder = data_dir()
    path = folder / CSV_NAME
    failures = []

    if path.is_file():
        try:
            _read_and_validate_course_file(path)
        except _SOURCE_ERRORS as error:
            logger.warning(
                "The cached MovieLens 100K file %s is invalid and will be "
                "rebuilt: %s",
                path,
                error,
            )
            failures.append((f"cached file {path}", f"invalid: {error}"))
        else:
            logger.info(
                "MovieLens 100K: using the cached file %s, built from %s.",
                path,
                data_source(path),
            )
            return path
    else:
        failures.append((f"cached file {path}", "not present"))

    for description, read_ratings in _sources(folder):
        if read_ratings is None:
            failures.append(
                (description, "skipped because COURSE_OFFLINE is set")
            )
            continue
        try:
            items, users, ratings = read_ratings()
            _validate_movielens(items, users, ratings)
        except _SOURCE_ERRORS as error:
            logger.warning("MovieLens 100K: %s failed: %s", description, error)
            failures.append((description, f"{type(error).__name__}: {error}"))
            continue
        _write_course_file(items, users, ratings, path, description)
        logger.info("MovieLens 100K: built %s from %s.", path, description)
        return path

    raise MovieLensUnavailableError(_unavailable_message(path, failures))


def data_source(path):
    """Return the description of the source that the CSV at ``path`` came from.

    ``fetch_movielens`` records it in a text file beside the CSV. A CSV
    placed without that record gets "unknown source".
    """
    record = Path(path).with_name(SOURCE_NAME)
    try:
        return record.read_text(encoding="utf-8").strip() or "unknown source"
    except FileNotFoundError:
        return "unknown source"


def _sources(folder):
    """Yield (description, function returning items, users, ratings).

    The function is None for a source that is skipped offline. The archive
    placed by hand is only listed when it exists.
    """
    local_zip = folder / GROUPLENS_ZIP_NAME
    if local_zip.is_file():
        yield (
            f"the GroupLens archive {local_zip} placed by hand",
            lambda: _ratings_from_grouplens_zip(local_zip.read_bytes()),
        )
    download = f"the GroupLens download {GROUPLENS_URL}"
    if offline():
        yield download, None
    else:
        yield (
            download,
            lambda: _ratings_from_grouplens_zip(_download(GROUPLENS_URL)),
        )
    yield (
        f"the offline copy, {RECBOLE_MEMBER} in the {RECBOLE_REQUIREMENT} "
        "wheel from the package index",
        _ratings_from_recbole,
    )


def _download(url):
    """Return the bytes at ``url``; raise OSError when the download fails."""
    # NOTE: the tests replace this function, so no test reaches GroupLens.
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        return response.read()


def _pip_download(requirement, folder):
    """Download the wheel of ``requirement`` into ``folder`` with pip.

    Returns the wheel's path. Raises RuntimeError with pip's output when pip
    fails, and subprocess.TimeoutExpired after PIP_TIMEOUT_S seconds.
    """
    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--no-input",
        "--disable-pip-version-check", "--dest", str(folder), requirement,
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S
    )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        raise RuntimeError(
            f"pip download exited with status {completed.returncode}: "
            f"{output[-1500:]}"
        )
    wheels = sorted(Path(folder).glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(
            f"pip download left {len(wheels)} wheel files in {folder}, "
            "expected 1"
        )
    return wheels[0]


def _ratings_from_grouplens_zip(archive):
    """Read (items, users, ratings) from the bytes of ml-100k.zip."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        text = opened.read(GROUPLENS_MEMBER).decode("utf-8")
    return _parse_tab_separated(text, has_header=False)


def _ratings_from_recbole():
    """Read (items, users, ratings) from the recbole wheel on the index."""
    with tempfile.TemporaryDirectory(prefix="recbole-wheel-") as folder:
        wheel = _pip_download(RECBOLE_REQUIREMENT, folder)
        with zipfile.ZipFile(wheel) as opened:
            text = opened.read(RECBOLE_MEMBER).decode("utf-8")
    return _parse_tab_separated(text, has_header=True)


def _parse_tab_separated(text, has_header):
    """Parse lines of user, item, rating, timestamp separated by tabs.

    GroupLens' u.data has no header; RecBole's ml-100k.inter starts with
    one naming the columns (``user_id:token`` ...). Returns the integer
    arrays ``items`` and ``users`` (1-based ids) and the float array
    ``ratings``, all of shape (number of lines,).
    """
    lines = text.splitlines()
    if has_header:
        if not lines or not lines[0].startswith("user_id"):
            first = lines[0][:80] if lines else "an empty file"
            raise ValueError(
                "expected a header line starting with 'user_id', found "
                f"{first!r}"
            )
        lines = lines[1:]
    body = "\n".join(line.rstrip("\r") for line in lines if line.strip())
    fields = _TAB_LINE.findall(body)
    expected = body.count("\n") + 1 if body else 0
    if len(fields) != expected:
        raise ValueError(
            f"{expected - len(fields)} of {expected} lines are not four "
            "tab-separated fields user, item, rating, timestamp"
        )
    table = np.array(fields, dtype=str).reshape(-1, 4)
    users = table[:, 0].astype(np.int64)
    items = table[:, 1].astype(np.int64)
    ratings = table[:, 2].astype(np.float64)
    return items, users, ratings


def _validate_movielens(items, users, ratings):
    """Raise ValueError unless the arrays are the whole of MovieLens 100K.

    Checks 100,000 ratings, unique (item, user) pairs, items 1 to 1682 and
    users 1 to 943 each with at least one rating, and integer ratings from
    1 to 5.
    """
    if len(ratings) != NUM_RATINGS:
        raise ValueError(
            f"found {len(ratings)} ratings, expected {NUM_RATINGS}"
        )
    pairs = np.unique(np.stack([items, users]), axis=1)
    if pairs.shape[1] != len(ratings):
        repeated = len(ratings) - pairs.shape[1]
        raise ValueError(f"found {repeated} repeated (item, user) pairs")
    expected_ids = [("item", items, NUM_ITEMS), ("user", users, NUM_USERS)]
    for name, ids, count in expected_ids:
        present = np.unique(ids)
        if present[0] != 1 or present[-1] != count or len(present) != count:
            raise ValueError(
                f"expected every {name} id from 1 to {count}, found "
                f"{len(present)} distinct ids from {present[0]} to "
                f"{present[-1]}"
            )
    if not np.all(np.isin(ratings, [1, 2, 3, 4, 5])):
        bad = ratings[~np.isin(ratings, [1, 2, 3, 4, 5])]
        raise ValueError(
            f"expected integer ratings from 1 to 5, found {float(bad[0])!r} "
            f"and {len(bad) - 1} more outside that set"
        )


def _read_and_validate_course_file(path):
    """Parse and validate the course CSV at ``path``.

    Raises ValueError when the file is not the whole of MovieLens 100K.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    _check_header(lines, path)
    items, users, ratings = _parse_course_lines(lines[1:])
    _validate_movielens(items, users, ratings)


def _write_course_file(items, users, ratings, path, description):
    """Write the course CSV sorted by item, then user, and its source record.

    Both files are written to a temporary name first and then renamed, so a
    crash or a concurrent reader never sees a partial file.
    """
    order = np.lexsort((users, items))
    body = "\n".join(
        f"r{item}_c{user},{rating}"
        for item, user, rating in zip(
            items[order].tolist(),
            users[order].tolist(),
            ratings[order].astype(np.int64).tolist(),
        )
    )
    _write_atomically(path, f"{CSV_HEADER}\n{body}\n")
    _write_atomically(Path(path).with_name(SOURCE_NAME), f"{description}\n")


def _write_atomically(path, text):
    path = Path(path)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
        delete=False,
    )
    try:
        with handle:
            handle.write(text)
        # NamedTemporaryFile creates the file readable by its owner only.
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _unavailable_message(path, failures):
    tried = "\n".join(f"  - {source}: {error}" for source, error in failures)
    return (
        "Could not get the MovieLens 100K ratings. Sources tried, in order:\n"
        f"{tried}\n"
        "To place the data by hand, do one of these, then run the cell "
        "again:\n"
        f"  - download {GROUPLENS_URL} on a machine with internet access and "
        f"copy it, unchanged, to {path.with_name(GROUPLENS_ZIP_NAME)};\n"
        f"  - copy {CSV_NAME} from the data folder of a working course "
        f"checkout to {path}.\n"
        f"The data folder is {path.parent}; set {DATA_DIR_ENV} to use another."
    )


# ---------------------------------------------------------------------------
# Loading and indexing
# ---------------------------------------------------------------------------


def load_data(path):
    """Load a course ratings CSV as the ratings matrix.

    Args:
        path: a CSV file with the header ``Id,Prediction`` and lines
            ``r<item>_c<user>,<rating>`` (1-based ids).

    Returns:
        ``scipy.sparse.csr_matrix`` of float64, items as rows and users as
        columns: entry [d, n] is the rating of item d + 1 by user n + 1, or 0
        when that user did not rate it. The shape is (largest item id,
        largest user id), (1682, 943) for MovieLens 100K.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    _check_header(lines, path)
    return preprocess_data(lines[1:])


def preprocess_data(lines):
    """Build the ratings matrix from course CSV lines without the header.

    Args:
        lines: strings ``r<item>_c<user>,<rating>`` with 1-based ids, e.g.
            ``"r44_c1,4"``. Blank lines are ignored.

    Returns:
        ``scipy.sparse.csr_matrix`` of float64 with items as rows and users
        as columns, shape (largest item id, largest user id).

    Raises:
        ValueError: for a malformed line, an id below 1, a rating of 0
            (which the sparse matrix cannot tell from "not rated") and a
            repeated (item, user) pair.
    """
    items, users, ratings = _parse_course_lines(lines)
    if len(ratings) == 0:
        raise ValueError("no ratings: every line is blank")
    if np.any(ratings == 0):
        raise ValueError("a rating of 0 cannot be stored: 0 means 'not rated'")

    shape = (int(items.max()), int(users.max()))
    rows, columns = items - 1, users - 1
    positions = np.ravel_multi_index((rows, columns), shape)
    if len(np.unique(positions)) != len(positions):
        raise ValueError("the lines repeat an (item, user) pair")
    return sp.csr_matrix(
        (ratings, (rows, columns)), shape=shape, dtype=np.float64
    )


def _check_header(lines, path):
    if not lines or lines[0].lstrip("\ufeff").strip() != CSV_HEADER:
        first = lines[0][:80] if lines else "an empty file"
        raise ValueError(
            f"{path}: expected the header {CSV_HEADER!r}, found {first!r}"
        )


def _parse_course_lines(lines):
    """Parse course CSV lines into (items, users, ratings) arrays.

    One regular expression matches every line at once. Returns integer
    arrays of 1-based ``items`` and ``users`` and a float array ``ratings``,
    each of shape (number of non-blank lines,).
    """
    body = "\n".join(line.strip() for line in lines if line.strip())
    fields = _COURSE_LINE.findall(body)
    expected = body.count("\n") + 1 if body else 0
    if len(fields) != expected:
        bad = next(
            line for line in body.split("\n") if not _COURSE_LINE.match(line)
        )
        raise ValueError(
            f"{expected - len(fields)} of {expected} lines are not "
            f"'r<item>_c<user>,<rating>', the first is {bad[:80]!r}"
        )
    if not fields:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)

    table = np.array(fields, dtype=str).reshape(-1, 3)
    items = table[:, 0].astype(np.int64)
    users = table[:, 1].astype(np.int64)
    ratings = table[:, 2].astype(np.float64)
    if items.min() < 1 or users.min() < 1:
        raise ValueError("item and user ids start at 1, found a 0")
    if not np.all(np.isfinite(ratings)):
        raise ValueError("found a rating that is not a finite number")
    return items, users, ratings


def build_index_groups(train):
    """Group the nonzero entries of a ratings matrix by item and by user.

    Stored zeros (entries that a sparse matrix keeps in its structure with
    the value 0, for example after ``matrix[d, n] = 0``) are not ratings and
    are left out, like the entries that are not stored.

    Args:
        train: sparse ratings matrix in any SciPy format, items as rows and
            users as columns, shape (num_items, num_users).

    Returns:
        nz_train: int array of shape (number of ratings, 2), one (item,
            user) pair of 0-based indices per rating, in row-major order.
        nz_item_userindices: list of (item, users) with ``users`` the int
            array of the users that rated ``item``, for every item with at
            least one rating, in increasing item order.
        nz_user_itemindices: list of (user, items) with ``items`` the int
            array of the items that ``user`` rated, for every user with at
            least one rating, in increasing user order.
    """
    coo = sp.coo_matrix(train)
    coo.sum_duplicates()
    rated = coo.data != 0
    items = coo.row[rated].astype(np.int64)
    users = coo.col[rated].astype(np.int64)

    by_item = np.lexsort((users, items))
    nz_train = np.column_stack([items[by_item], users[by_item]])
    nz_item_userindices = _group(items[by_item], users[by_item])

    by_user = np.lexsort((items, users))
    nz_user_itemindices = _group(users[by_user], items[by_user])
    return nz_train, nz_item_userindices, nz_user_itemindices


def _group(keys, values):
    """Split ``values`` at every change of the sorted ``keys``."""
    if len(keys) == 0:
        return []
    starts = np.flatnonzero(np.diff(keys)) + 1
    return list(zip(keys[np.r_[0, starts]].tolist(), np.split(values, starts)))


def calculate_mse(real, prediction):
    """Return the mean squared error between ratings and predictions.

    Args:
        real: the true ratings, any array-like of numbers, for example a
            NumPy array or the ``numpy.matrix`` that indexing a sparse
            matrix returns.
        prediction: the predicted ratings, with the shape of ``real`` or
            broadcastable to it (a single number predicts every rating).

    Returns:
        ``mean((real - prediction) ** 2)`` over the entries of ``real``, a
        float: a true mean, not a sum, so ``np.sqrt`` of it is the RMSE.

    Raises:
        ValueError: when ``real`` is empty, because the mean is undefined.
    """
    real = np.asarray(real, dtype=np.float64)
    if real.size == 0:
        raise ValueError("calculate_mse needs at least one rating")
    errors = real - np.asarray(prediction, dtype=np.float64)
    if errors.shape != real.shape:
        raise ValueError(
            f"prediction of shape {np.shape(prediction)} does not broadcast "
            f"to the ratings' shape {real.shape}"
        )
    return float(np.mean(errors**2))
