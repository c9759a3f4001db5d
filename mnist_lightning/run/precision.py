"""`trainer.precision=auto`: the numerics a run uses, picked for the machine it runs on."""

import torch
from omegaconf import DictConfig

AUTO = "auto"
# What trainer.precision takes: auto, and the values Lightning's Trainer accepts (2.6; its own list is private)
PRECISIONS = (AUTO, "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "32", "16", "bf16", "64",
              "transformer-engine", "transformer-engine-float16")  # fmt: skip


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles with bfloat16 multiplies (Intel Xeon since Sapphire Rapids), as torch's CPU
    capabilities report them. A torch without `torch.cpu.get_capabilities` is asked its older, private question (AMX
    tiles; every CPU with them so far multiplies bf16 in them); one with neither gets False."""
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)
    if get_capabilities is not None:
        capabilities = get_capabilities()
        return bool(capabilities.get("amx_tile") and capabilities.get("amx_bf16"))
    has_tiles = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(has_tiles and has_tiles())


def runs_on_cpu(trainer_cfg: DictConfig) -> bool:
    """Whether Lightning will train on the CPU: trainer.accelerator=cpu, or auto on a machine without a GPU."""
    accelerator = str(trainer_cfg.get("accelerator", "auto"))
    if accelerator == "auto":
        return not torch.cuda.is_available() and not torch.backends.mps.is_available()
    return accelerator == "cpu"


def resolve_precision(trainer_cfg: DictConfig) -> str:
    """`trainer.precision`, with `auto` made concrete: bf16-mixed on a CPU with AMX, where oneDNN runs the bfloat16
    convolutions in its tiles (fit 1.25x as fast as fp32 for experiment=fast and 1.6x for fast_v2 on a 2-core Xeon
    with AMX, docs/speed.md), and 32-true everywhere else (bf16 was measured slower than fp32 on CPUs without AMX, and
    no faster for this project on a GPU). Every other value is Lightning's own and passes through."""
    precision = str(trainer_cfg.get("precision", "32-true"))
    if precision != AUTO:
        return precision
    return "bf16-mixed" if runs_on_cpu(trainer_cfg) and cpu_has_amx() else "32-true"
