"""Skip a CUDA check that can only fail: every optimizer step on a machine without NVIDIA's driver paid for it."""

import ctypes
import os

import torch


def skip_failing_nvml_check() -> bool:
    """Turn off torch's NVML-based CUDA check (PYTORCH_NVML_BASED_CUDA_CHECK=0) where NVML cannot start.

    Importing Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1, so that `torch.cuda.is_available()` asks NVML and does
    not initialize CUDA before a fork. torch calls it in every `optimizer.step()`, and where NVML's library is missing
    (no NVIDIA driver) or does not start, each call loads it again, fails, and falls back to the CUDA runtime's own
    count: 0.1 ms of a fused Adam step of the reference net on a 2-core Xeon (docs/speed.md). With the check off torch
    asks the CUDA runtime directly, which is what the failed check fell back to, so the answer is the same. Where
    NVML starts, and on ROCm builds (which ask amdsmi instead), the check stays on. Returns whether it was turned off.
    """
    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") != "1" or torch.version.hip:
        return False
    try:  # what torch.cuda._raw_device_count_nvml loads and calls
        usable = ctypes.CDLL("libnvidia-ml.so.1").nvmlInit() == 0
    except OSError:
        usable = False
    if not usable:
        os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "0"
    return not usable
