"""Tests of helpers.torch_utils: device choice, seeding and data loaders."""

import random

import numpy as np
import pytest
import torch

from helpers import torch_utils


@pytest.fixture
def restore_cudnn():
    """Put the cuDNN flags back after a test that seeds."""
    saved = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def test_select_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    assert torch_utils.select_device() == torch.device("cpu")


def test_select_device_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    assert torch_utils.select_device() == torch.device("cuda")


def test_describe_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    line = torch_utils.describe_device(torch.device("cpu"))

    assert line.startswith("Using the CPU (")
    assert "no CUDA GPU is available" in line
    assert "\n" not in line


def test_describe_cpu_counts_threads(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)

    line = torch_utils.describe_device("cpu")

    assert line == "Using the CPU (1 thread) because no CUDA GPU is available."


def test_limit_cpu_threads():
    saved = torch.get_num_threads()
    try:
        torch_utils.limit_cpu_threads()
        assert torch.get_num_threads() == 1
        torch_utils.limit_cpu_threads(2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(saved)


def test_describe_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"Test GPU {index}")

    assert torch_utils.describe_device("cuda") == "Using the GPU cuda:0 (Test GPU 0)."
    assert torch_utils.describe_device("cuda:1") == "Using the GPU cuda:1 (Test GPU 1)."


def _draws():
    return random.random(), np.random.rand(), torch.rand(3).tolist()


def test_seed_everything_repeats_draws(restore_cudnn):
    torch_utils.seed_everything(11)
    first = _draws()
    torch_utils.seed_everything(11)
    again = _draws()
    torch_utils.seed_everything(12)
    other = _draws()

    assert first == again
    assert first[0] != other[0]
    assert first[1] != other[1]
    assert first[2] != other[2]


def test_seed_everything_sets_cudnn_flags(restore_cudnn):
    torch.backends.cudnn.deterministic = False
    torch.backends.cudnn.benchmark = True

    torch_utils.seed_everything(0)

    assert torch.backends.cudnn.deterministic is True
    assert torch.backends.cudnn.benchmark is False


def _order(loader):
    return torch.cat([labels for _, labels in loader]).tolist()


def _dataset(size=20):
    features = torch.arange(size, dtype=torch.float32).reshape(size, 1)
    return torch.utils.data.TensorDataset(features, torch.arange(size))


def test_make_loader_order_depends_on_seed_only():
    dataset = _dataset()
    first = torch_utils.make_loader(dataset, batch_size=6, shuffle=True, seed=5)
    order = _order(first)

    torch.manual_seed(123)
    torch.rand(100)  # draws from the global state must not matter
    again = torch_utils.make_loader(dataset, batch_size=6, shuffle=True, seed=5)
    other = torch_utils.make_loader(dataset, batch_size=6, shuffle=True, seed=6)

    assert _order(again) == order
    assert _order(other) != order
    assert sorted(order) == list(range(20))


def test_make_loader_defaults():
    loader = torch_utils.make_loader(_dataset(), batch_size=6, shuffle=False)

    assert loader.num_workers == 0
    assert _order(loader) == list(range(20))
    assert [len(labels) for _, labels in loader] == [6, 6, 6, 2]


def test_make_loader_new_order_each_epoch():
    loader = torch_utils.make_loader(_dataset(), batch_size=20, shuffle=True, seed=1)

    assert _order(loader) != _order(loader)
