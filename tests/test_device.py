"""On a GPU runner, the torch notebooks must really see the GPU.

The GPU job of the CI workflow sets COURSE_REQUIRE_CUDA=1. Elsewhere these
tests are skipped, because the course runs unchanged on a CPU.
"""

import os

import pytest

REQUIRE_CUDA = os.environ.get("COURSE_REQUIRE_CUDA") == "1"


@pytest.mark.skipif(not REQUIRE_CUDA, reason="COURSE_REQUIRE_CUDA is not set to 1")
def test_torch_sees_cuda():
    import torch

    assert torch.cuda.is_available(), (
        "COURSE_REQUIRE_CUDA=1 but torch.cuda.is_available() is False: check "
        "the NVIDIA driver and that torch is a CUDA build (torch.version.cuda)"
    )
    device = torch.device("cuda")
    product = torch.ones(64, 64, device=device) @ torch.ones(64, 64, device=device)
    assert product[0, 0].item() == 64.0


@pytest.mark.skipif(not REQUIRE_CUDA, reason="COURSE_REQUIRE_CUDA is not set to 1")
def test_course_selects_the_gpu():
    from helpers.torch_utils import describe_device, select_device

    device = select_device()

    assert device.type == "cuda"
    assert describe_device(device).startswith("Using the GPU cuda:")
