"""Where the helpers cache their data."""

from helpers import paths


def test_data_dir_from_environment(tmp_path, monkeypatch):
    target = tmp_path / "cache" / "nested"
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(target))

    folder = paths.data_dir()

    assert folder == target
    assert folder.is_dir()


def test_data_dir_beside_checkout(monkeypatch):
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)

    folder = paths.data_dir()

    assert folder == paths._PACKAGE_ROOT / "data"


def test_data_dir_outside_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(paths, "_PACKAGE_ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(paths.Path, "home", lambda: tmp_path / "home")

    folder = paths.data_dir()

    assert folder == tmp_path / "home" / ".cache" / "ml-course"


def test_offline_values(monkeypatch):
    for value, expected in [("1", True), ("yes", True), ("TRUE", True), ("0", False), ("", False)]:
        monkeypatch.setenv(paths.OFFLINE_ENV, value)
        assert paths.offline() is expected, value
    monkeypatch.delenv(paths.OFFLINE_ENV)
    assert paths.offline() is False
