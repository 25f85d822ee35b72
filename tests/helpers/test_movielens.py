"""MovieLens 100K helpers: fetching with fallbacks, validation, loading.

Every test works in its own data folder (COURSE_DATA_DIR) with a synthetic
data set that has the shape of MovieLens 100K. The network functions are
replaced, so no test downloads anything. Only the last test touches the
course's data/ cache, and it only reads it.
"""

import io
import logging
import os
import subprocess
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from helpers import movielens, paths

NUM_ITEMS, NUM_USERS, NUM_RATINGS = 1682, 943, 100_000


# ---------------------------------------------------------------------------
# A synthetic stand-in for MovieLens 100K and its two source formats
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_ratings():
    """Return (items, users, ratings) that pass MovieLens validation.

    Item k is rated by user k mod 943, so every item and user id occurs;
    the other pairs are random and distinct. Ids are 1-based.
    """
    rng = np.random.default_rng(10)
    cells = NUM_ITEMS * NUM_USERS
    first_items = np.arange(NUM_ITEMS)
    covering = first_items * NUM_USERS + first_items % NUM_USERS
    others = np.setdiff1d(rng.permutation(cells)[: 2 * NUM_RATINGS], covering)
    chosen = np.concatenate([covering, others[: NUM_RATINGS - NUM_ITEMS]])
    chosen = rng.permutation(chosen)
    items, users = np.divmod(chosen, NUM_USERS)
    ratings = rng.integers(1, 6, size=NUM_RATINGS).astype(float)
    return items + 1, users + 1, ratings


def tab_separated(items, users, ratings, header=False):
    """Return u.data-style text: user, item, rating, timestamp per line."""
    lines = [
        f"{user}\t{item}\t{int(rating)}\t{880000000 + index}"
        for index, (item, user, rating)
        in enumerate(zip(items, users, ratings))
    ]
    if header:
        lines.insert(0, "\t".join([
            "user_id:token", "item_id:token", "rating:float", "timestamp:float"
        ]))
    return "\n".join(lines) + "\n"


def grouplens_zip(text):
    """Return the bytes of an ml-100k.zip holding ``text`` as u.data."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-100k/README", "fake archive for tests")
        archive.writestr(movielens.GROUPLENS_MEMBER, text)
    return buffer.getvalue()


def archive_of(fake_ratings):
    """Return an ml-100k.zip of the (items, users, ratings) arrays."""
    return grouplens_zip(tab_separated(*fake_ratings))


def write_recbole_wheel(folder, text):
    """Write a wheel file that contains ``text`` as ml-100k.inter."""
    wheel = Path(folder) / "recbole-1.2.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("recbole/__init__.py", "")
        archive.writestr(movielens.RECBOLE_MEMBER, text)
    return wheel


def dense_from(items, users, ratings):
    dense = np.zeros((items.max(), users.max()))
    for item, user, rating in zip(items, users, ratings):
        dense[item - 1, user - 1] = rating
    return dense


class Sources:
    """Fake network sources that count their calls."""

    def __init__(self, monkeypatch):
        self.download_calls = 0
        self.pip_calls = 0
        self.download_result = urllib.error.URLError(
            "network disabled in tests"
        )
        self.inter_text = None
        monkeypatch.setattr(movielens, "_download", self._download)
        monkeypatch.setattr(movielens, "_pip_download", self._pip_download)

    def _download(self, url):
        self.download_calls += 1
        assert url == movielens.GROUPLENS_URL
        if isinstance(self.download_result, Exception):
            raise self.download_result
        return self.download_result

    def _pip_download(self, requirement, folder):
        self.pip_calls += 1
        assert requirement == "recbole==1.2.1"
        if self.inter_text is None:
            raise RuntimeError(
                "pip download exited with status 1: no index in tests"
            )
        return write_recbole_wheel(folder, self.inter_text)


@pytest.fixture
def data_folder(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(folder))
    monkeypatch.delenv(paths.OFFLINE_ENV, raising=False)
    return folder


@pytest.fixture
def sources(monkeypatch, data_folder):
    return Sources(monkeypatch)


def info_messages(caplog):
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "helpers.movielens"
        and record.levelno == logging.INFO
    ]


# ---------------------------------------------------------------------------
# Source order and logging
# ---------------------------------------------------------------------------


def test_fetch_prefers_grouplens_download(sources, fake_ratings, caplog):
    items, users, ratings = fake_ratings
    sources.download_result = archive_of(fake_ratings)
    caplog.set_level(logging.INFO, logger="helpers.movielens")

    path = movielens.fetch_movielens()

    assert path == paths.data_dir() / movielens.CSV_NAME
    assert (sources.download_calls, sources.pip_calls) == (1, 0)
    assert "GroupLens download" in movielens.data_source(path)
    messages = info_messages(caplog)
    assert len(messages) == 1
    assert "GroupLens download" in messages[0]
    matrix = movielens.load_data(path)
    assert matrix.shape == (NUM_ITEMS, NUM_USERS)
    assert np.array_equal(matrix.toarray(), dense_from(items, users, ratings))


def test_fetch_falls_back_to_recbole(sources, fake_ratings, caplog):
    items, users, ratings = fake_ratings
    sources.inter_text = tab_separated(items, users, ratings, header=True)
    caplog.set_level(logging.INFO, logger="helpers.movielens")

    path = movielens.fetch_movielens()

    assert (sources.download_calls, sources.pip_calls) == (1, 1)
    assert "recbole==1.2.1" in movielens.data_source(path)
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
    ]
    assert any("network disabled in tests" in message for message in warnings)
    messages = info_messages(caplog)
    assert len(messages) == 1
    assert "recbole==1.2.1" in messages[0]
    assert np.array_equal(
        movielens.load_data(path).toarray(), dense_from(items, users, ratings)
    )


def test_fetch_offline_skips_download(sources, fake_ratings, monkeypatch):
    items, users, ratings = fake_ratings
    monkeypatch.setenv(paths.OFFLINE_ENV, "1")
    sources.inter_text = tab_separated(items, users, ratings, header=True)

    path = movielens.fetch_movielens()

    assert sources.download_calls == 0
    assert sources.pip_calls == 1
    assert "recbole==1.2.1" in movielens.data_source(path)


def test_fetch_uses_archive_placed_by_hand(
    sources, fake_ratings, data_folder, monkeypatch
):
    monkeypatch.setenv(paths.OFFLINE_ENV, "1")
    data_folder.mkdir(parents=True)
    archive = data_folder / movielens.GROUPLENS_ZIP_NAME
    archive.write_bytes(archive_of(fake_ratings))

    path = movielens.fetch_movielens()

    assert (sources.download_calls, sources.pip_calls) == (0, 0)
    assert str(archive) in movielens.data_source(path)


def test_invalid_download_falls_through(sources, fake_ratings):
    items, users, ratings = fake_ratings
    short = tab_separated(items[:-1], users[:-1], ratings[:-1])
    sources.download_result = grouplens_zip(short)
    sources.inter_text = tab_separated(items, users, ratings, header=True)

    path = movielens.fetch_movielens()

    assert (sources.download_calls, sources.pip_calls) == (1, 1)
    assert "recbole==1.2.1" in movielens.data_source(path)


def test_sources_build_identical_files(sources, fake_ratings, data_folder):
    items, users, ratings = fake_ratings
    sources.download_result = archive_of(fake_ratings)
    from_grouplens = movielens.fetch_movielens().read_bytes()

    (data_folder / movielens.CSV_NAME).unlink()
    sources.download_result = urllib.error.URLError("offline")
    reordered = np.random.default_rng(3).permutation(NUM_RATINGS)
    sources.inter_text = tab_separated(
        items[reordered], users[reordered], ratings[reordered], header=True
    )
    from_recbole = movielens.fetch_movielens().read_bytes()

    assert from_grouplens == from_recbole
    lines = from_recbole.decode().splitlines()
    assert lines[0] == "Id,Prediction"
    assert len(lines) == NUM_RATINGS + 1
    first = np.lexsort((users, items))[0]
    assert lines[1] == f"r{items[first]}_c{users[first]},{int(ratings[first])}"


# ---------------------------------------------------------------------------
# The cache
# ---------------------------------------------------------------------------


def test_valid_cache_needs_no_source(sources, fake_ratings, caplog):
    sources.download_result = archive_of(fake_ratings)
    path = movielens.fetch_movielens()
    sources.download_result = urllib.error.URLError("must not be called")
    caplog.clear()
    caplog.set_level(logging.INFO, logger="helpers.movielens")

    assert movielens.fetch_movielens() == path

    assert (sources.download_calls, sources.pip_calls) == (1, 0)
    messages = info_messages(caplog)
    assert len(messages) == 1
    assert "using the cached file" in messages[0]


def _truncate(lines):
    return lines[: len(lines) // 2]


def _bad_rating(lines):
    return lines[:5] + [lines[5].rsplit(",", 1)[0] + ",7"] + lines[6:]


def _repeated_pair(lines):
    return lines[:-1] + [lines[1]]


def _wrong_header(lines):
    return ["Id,Rating"] + lines[1:]


def _garbage_line(lines):
    return lines[:10] + ["r12_c?,3"] + lines[11:]


@pytest.mark.parametrize(
    "damage",
    [_truncate, _bad_rating, _repeated_pair, _wrong_header, _garbage_line],
)
def test_damaged_cache_is_rebuilt(sources, fake_ratings, caplog, damage):
    sources.download_result = archive_of(fake_ratings)
    path = movielens.fetch_movielens()
    good = path.read_text()
    path.write_text("\n".join(damage(good.splitlines())) + "\n")
    caplog.set_level(logging.WARNING, logger="helpers.movielens")

    assert movielens.fetch_movielens() == path

    assert sources.download_calls == 2
    assert path.read_text() == good
    messages = [record.getMessage() for record in caplog.records]
    assert any("is invalid" in message for message in messages)


def test_damaged_cache_without_source_raises(sources, fake_ratings):
    sources.download_result = archive_of(fake_ratings)
    path = movielens.fetch_movielens()
    path.write_text("\n".join(_truncate(path.read_text().splitlines())) + "\n")
    sources.download_result = urllib.error.URLError("no network")

    with pytest.raises(movielens.MovieLensUnavailableError) as raised:
        movielens.fetch_movielens()

    expected = f"cached file {path}: invalid: found 49999 ratings"
    assert expected in str(raised.value)


def test_no_source_error_names_every_source(sources, data_folder):
    with pytest.raises(movielens.MovieLensUnavailableError) as raised:
        movielens.fetch_movielens()

    message = str(raised.value)
    csv_path = data_folder / movielens.CSV_NAME
    assert f"cached file {csv_path}: not present" in message
    download = f"the GroupLens download {movielens.GROUPLENS_URL}"
    assert f"{download}: URLError" in message
    assert "network disabled in tests" in message
    recbole = "recbole==1.2.1 wheel from the package index"
    assert f"{recbole}: RuntimeError" in message
    assert "no index in tests" in message
    assert str(data_folder / movielens.GROUPLENS_ZIP_NAME) in message
    assert str(csv_path) in message
    assert paths.DATA_DIR_ENV in message
    assert not csv_path.exists()


def test_offline_error_says_download_skipped(sources, monkeypatch):
    monkeypatch.setenv(paths.OFFLINE_ENV, "yes")

    with pytest.raises(movielens.MovieLensUnavailableError) as raised:
        movielens.fetch_movielens()

    assert "skipped because COURSE_OFFLINE is set" in str(raised.value)
    assert sources.download_calls == 0


def test_pip_download_command(tmp_path, monkeypatch):
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        destination = command[command.index("--dest") + 1]
        write_recbole_wheel(destination, "")
        return subprocess.CompletedProcess(command, 0, stdout="", stderr="")

    monkeypatch.setattr(movielens.subprocess, "run", fake_run)

    wheel = movielens._pip_download("recbole==1.2.1", tmp_path)

    assert wheel.parent == tmp_path
    (command,) = commands
    assert command[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in command
    assert command[-1] == "recbole==1.2.1"


def test_pip_failure_reports_output(tmp_path, monkeypatch):
    def fake_run(command, **kwargs):
        return subprocess.CompletedProcess(
            command, 1, stdout="", stderr="ERROR: No matching distribution"
        )

    monkeypatch.setattr(movielens.subprocess, "run", fake_run)

    expected = "status 1: ERROR: No matching distribution"
    with pytest.raises(RuntimeError, match=expected):
        movielens._pip_download("recbole==1.2.1", tmp_path)


# ---------------------------------------------------------------------------
# Loading and indexing
# ---------------------------------------------------------------------------


def test_load_data_matches_dense(tmp_path):
    rng = np.random.default_rng(4)
    dense = rng.integers(1, 6, size=(12, 7)) * (rng.random((12, 7)) < 0.4)
    dense[11, 6] = 3  # the largest ids set the shape
    items, users = np.nonzero(dense)
    lines = [f"r{d + 1}_c{n + 1},{dense[d, n]}" for d, n in zip(items, users)]
    path = tmp_path / "small.csv"
    body = "\n".join(rng.permutation(lines))
    path.write_text(f"Id,Prediction\n{body}\n")

    matrix = movielens.load_data(path)

    assert sp.issparse(matrix)
    assert matrix.dtype == np.float64
    assert matrix.shape == (12, 7)
    assert np.array_equal(matrix.toarray(), dense)


def test_load_data_rejects_missing_header(tmp_path):
    path = tmp_path / "no_header.csv"
    path.write_text("r1_c1,3\n")

    expected = "expected the header 'Id,Prediction'"
    with pytest.raises(ValueError, match=expected):
        movielens.load_data(path)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["r1_c1,3", "r2-c1,4"],
            "1 of 2 lines are not 'r<item>_c<user>,<rating>'",
        ),
        (["r1_c1,3", "r1_c1,4"], "repeat an \\(item, user\\) pair"),
        (["r1_c1,0"], "a rating of 0 cannot be stored"),
        (["r0_c1,2"], "ids start at 1"),
        (["r1_c1,nan"], "not a finite number"),
        (["", "  "], "no ratings"),
    ],
)
def test_preprocess_data_rejects(lines, message):
    with pytest.raises(ValueError, match=message):
        movielens.preprocess_data(lines)


def test_preprocess_data_ignores_blank_lines_and_spaces():
    matrix = movielens.preprocess_data(["r2_c3,4\n", "", " r1_c1,5 "])

    expected = np.zeros((2, 3))
    expected[1, 2], expected[0, 0] = 4, 5
    assert np.array_equal(matrix.toarray(), expected)


def test_build_index_groups_against_dense():
    rng = np.random.default_rng(5)
    dense = rng.integers(1, 6, size=(9, 6)) * (rng.random((9, 6)) < 0.5)
    dense[4] = 0  # an item without ratings
    dense[:, 2] = 0  # a user without ratings
    train = sp.lil_matrix(dense.astype(float))

    nz_train, by_item, by_user = movielens.build_index_groups(train)

    assert nz_train.shape == (np.count_nonzero(dense), 2)
    assert np.array_equal(nz_train, np.argwhere(dense != 0))
    expected_by_item = [
        (item, np.flatnonzero(dense[item]))
        for item in range(9)
        if dense[item].any()
    ]
    assert [item for item, _ in by_item] == [
        item for item, _ in expected_by_item
    ]
    for (_, users), (_, expected) in zip(by_item, expected_by_item):
        assert np.array_equal(users, expected)
    expected_by_user = [
        (user, np.flatnonzero(dense[:, user]))
        for user in range(6)
        if dense[:, user].any()
    ]
    assert [user for user, _ in by_user] == [
        user for user, _ in expected_by_user
    ]
    for (_, items), (_, expected) in zip(by_user, expected_by_user):
        assert np.array_equal(items, expected)


def test_build_index_groups_ignores_stored_zeros():
    dense = np.array([
        [4.0, 0.0, 2.0],
        [0.0, 5.0, 0.0],
        [3.0, 1.0, 0.0],
    ])
    with_zeros = sp.csr_matrix(dense)
    # Zeroing stored entries keeps them in the structure: item 1 and user 2
    # are left with stored zeros only.
    with_zeros[1, 1] = 0.0
    with_zeros[0, 2] = 0.0
    assert with_zeros.nnz == 5
    cleaned = dense.copy()
    cleaned[1, 1] = cleaned[0, 2] = 0.0

    nz_train, by_item, by_user = movielens.build_index_groups(with_zeros)

    assert np.array_equal(nz_train, np.argwhere(cleaned != 0))
    assert [item for item, _ in by_item] == [0, 2]
    assert np.array_equal(by_item[0][1], [0])
    assert np.array_equal(by_item[1][1], [0, 1])
    assert [user for user, _ in by_user] == [0, 1]
    assert np.array_equal(by_user[0][1], [0, 2])
    assert np.array_equal(by_user[1][1], [2])


def test_build_index_groups_of_empty_matrix():
    empty = sp.csr_matrix((3, 4))

    nz_train, by_item, by_user = movielens.build_index_groups(empty)


    assert nz_train.shape == (0, 2)
    assert by_item == []
    assert by_user == []


def test_calculate_mse_is_a_mean():
    real = np.array([3.0, 5.0, 1.0, 4.0])
    prediction = np.array([2.5, 5.0, 2.0, 2.0])

    assert movielens.calculate_mse(real, prediction) == pytest.approx(
        (0.25 + 0.0 + 1.0 + 4.0) / 4, rel=1e-15
    )
    assert movielens.calculate_mse(real, 3.25) == pytest.approx(
        np.mean((real - 3.25) ** 2), rel=1e-15
    )


def test_calculate_mse_accepts_sparse_indexing_result():
    matrix = sp.csr_matrix(np.array([[4.0, 0.0], [0.0, 2.0]]))
    real = matrix[matrix.nonzero()]  # a 1 x 2 numpy.matrix

    assert movielens.calculate_mse(real, 3.0) == pytest.approx(1.0)


def test_calculate_mse_rejects_empty_and_mismatched():
    with pytest.raises(ValueError, match="at least one rating"):
        movielens.calculate_mse(np.array([]), 3.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        movielens.calculate_mse(np.array([1.0]), np.array([1.0, 2.0]))


# ---------------------------------------------------------------------------
# The course's own cache, read only
# ---------------------------------------------------------------------------


def test_course_cache_is_valid_when_present():
    folder = os.environ.get(paths.DATA_DIR_ENV)
    folder = folder or str(paths._PACKAGE_ROOT / "data")
    path = Path(folder).expanduser() / movielens.CSV_NAME
    if not path.is_file():
        pytest.skip(f"{path} is not built yet; `make data` builds it")

    movielens._read_and_validate_course_file(path)
    ratings = movielens.load_data(path)

    assert ratings.shape == (NUM_ITEMS, NUM_USERS)
    assert ratings.nnz == NUM_RATINGS
    per_user = np.asarray((ratings != 0).sum(axis=0)).ravel()
    assert per_user.min() == 20
