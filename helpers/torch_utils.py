"""Device and CPU threads, seeding and data loaders for the PyTorch sets.

ex11 and ex13 import these so that the same notebook runs on a CUDA GPU
when one is available and on the CPU otherwise, and gives the same results
every time it runs on the same machine.
"""

import random

import numpy as np
import torch


def select_device():
    """Return ``torch.device("cuda")`` when a CUDA GPU is usable, else the CPU.

    Models and batches go to this device with ``.to(device)``; tensors come
    back with ``.cpu()`` before ``.numpy()``.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def limit_cpu_threads(num_threads=1):
    """Make torch run each CPU operation on ``num_threads`` threads.

    The course's models are small, so splitting one operation over several
    threads gains little, and every operation waits for its slowest thread.
    When other programs keep a core busy, that wait dominates. On a 2-core
    machine with one core busy, an epoch of ex13's adversarial training
    took 2 s on one thread and 26 to 30 s on two.
    """
    torch.set_num_threads(num_threads)


def describe_device(device):
    """Return one line naming ``device``, for a notebook to print."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index
        if index is None:
            index = torch.cuda.current_device()
        name = torch.cuda.get_device_name(index)
        return f"Using the GPU cuda:{index} ({name})."
    if torch.cuda.is_available():
        return (
            f"Using the CPU ({_threads()}), although a CUDA GPU is "
            "available."
        )
    return (
        f"Using the CPU ({_threads()}) because no CUDA GPU is available."
    )


def _threads():
    count = torch.get_num_threads()
    return "1 thread" if count == 1 else f"{count} threads"


def seed_everything(seed):
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA GPU).

    Also makes cuDNN pick deterministic convolution algorithms.
    NOTE: other CUDA kernels may still sum in a varying order, so two GPU
    runs can differ in the last digits, and GPU results differ slightly
    from the CPU's.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def make_loader(dataset, batch_size, shuffle, seed=0, num_workers=0):
    """Return a ``DataLoader`` whose shuffling depends on ``seed`` only.

    The loader draws its order from its own seeded ``torch.Generator``, so
    the batches do not change when other code draws from torch's global
    random state. ``num_workers=0`` loads batches in the main process, which
    works on every platform and is fast enough for MNIST-sized data.
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
    )
