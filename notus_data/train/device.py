"""Where training runs: the device, its precision and memory settings, and its peak memory afterwards."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from notus_data.errors import OptionError
from notus_data.train.config import TrainConfig


@dataclass
class DeviceSetup:
    """The resolved device and what it implies (see :func:`resolve_device`)."""

    device: str
    bf16: bool
    gradient_checkpointing: bool
    world_size: int
    gradient_accumulation_steps: int


def resolve_device(
    config: TrainConfig,
    *,
    cuda_available: bool | None = None,
    bf16_supported: bool | None = None,
    world_size: int | None = None,
) -> DeviceSetup:
    """Pick the device and the precision settings that follow from it.

    ``device="auto"`` uses CUDA when available, else the CPU. ``bf16`` and ``gradient_checkpointing`` left at
    None are on with a GPU and off on the CPU (bf16 only where the GPU supports it; older GPUs train in float32). The gradient accumulation is
    ``global_batch_size / (per_device_train_batch_size * world_size)``, where ``world_size`` is the number of
    processes (``WORLD_SIZE``, set by ``accelerate launch`` / ``torchrun``).

    >>> setup = resolve_device(TrainConfig(), cuda_available=False, bf16_supported=False, world_size=1)
    >>> setup.device, setup.bf16, setup.gradient_checkpointing, setup.gradient_accumulation_steps
    ('cpu', False, False, 8)
    >>> gpu = resolve_device(TrainConfig(), cuda_available=True, bf16_supported=True, world_size=8)
    >>> gpu.bf16, gpu.gradient_checkpointing, gpu.gradient_accumulation_steps
    (True, True, 1)
    """
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    if bf16_supported is None:
        import torch

        bf16_supported = cuda_available and torch.cuda.is_bf16_supported()
    if world_size is None:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if config.device == "cuda" and not cuda_available:
        raise OptionError("device='cuda' but no CUDA GPU is visible to torch; use --device auto or cpu")
    device = "cuda" if config.device == "cuda" or (config.device == "auto" and cuda_available) else "cpu"
    on_gpu = device == "cuda"
    per_step = config.per_device_train_batch_size * world_size
    if config.global_batch_size % per_step:
        raise OptionError(
            f"global_batch_size={config.global_batch_size} is not a multiple of per_device_train_batch_size="
            f"{config.per_device_train_batch_size} x {world_size} process(es); change one of them"
        )
    return DeviceSetup(
        device=device,
        bf16=(on_gpu and bool(bf16_supported)) if config.bf16 is None else config.bf16,
        gradient_checkpointing=on_gpu
        if config.gradient_checkpointing is None
        else config.gradient_checkpointing,
        world_size=world_size,
        gradient_accumulation_steps=config.global_batch_size // per_step,
    )


def peak_memory(device: str) -> tuple[str, int | None]:
    """(what was measured, bytes): ``torch.cuda.max_memory_allocated`` on a GPU, else the process's peak RSS."""
    if device == "cuda":
        import torch

        return "cuda max_memory_allocated", int(torch.cuda.max_memory_allocated())
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return "peak RSS", int(rss if sys.platform == "darwin" else rss * 1024)
    except ImportError:  # Windows: no resource module
        try:
            import psutil
        except ImportError:
            return "unavailable (install psutil)", None
        return "RSS at the end", int(psutil.Process().memory_info().rss)
