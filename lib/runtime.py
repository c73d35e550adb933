"""Where and how the arithmetic runs: thread count, deterministic algorithms, progress bars, and the
record of the arithmetic (torch version, CPU capability, threads, device) that every run stores.

Bitwise determinism holds per (CPU capability, torch version, thread count, device): the same
configuration run under another one of these is another draw of the same experiment.
``ATEN_CPU_CAPABILITY`` (``default``, ``avx2``, ``avx512``) and ``ONEDNN_MAX_CPU_ISA`` change the
capability on purpose, which is how the book tests that a verdict does not depend on it.
"""
from __future__ import annotations

import contextlib
import os

import torch


def show_progress(progress: bool | None) -> bool:
    """A progress bar unless the caller says otherwise or ``$TWOPHASE_PROGRESS=0``."""
    return (os.environ.get("TWOPHASE_PROGRESS", "1") != "0") if progress is None else progress


@contextlib.contextmanager
def deterministic(threads: int):
    """Deterministic algorithms and a fixed thread count inside the block."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def arithmetic(threads: int | None = None, device: str = "cpu") -> dict:
    """What decides the bits of a run here: torch version, CPU capability, threads, device."""
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads() if threads is None else threads, "device": device}


def arithmetic_text(record: dict | None) -> str:
    """One line for a page's setting line, e.g. 'torch 2.14.1, CPU capability AVX512, 2 threads, cpu'."""
    if not record:
        return "arithmetic not recorded"
    return (f"torch {record['torch']}, CPU capability {record['cpu_capability']}, "
            f"{record['threads']} thread{'s' if record['threads'] != 1 else ''}, {record['device']}")
