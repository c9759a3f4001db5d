"""Which of the instruction sets that decide this project's CPU speed a CPU has: read from /proc/cpuinfo or a saved
`lscpu`, without torch (report imports it, and must start fast)."""

from pathlib import Path

# AVX2 and AVX-512 for fp32, AVX-512 BF16 and AMX for bf16 (trainer.precision=auto picks bf16-mixed where the CPU has
# AMX tiles, run/precision.py).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def speed_flags(text: str, prefix: str) -> list[str] | None:
    """The SPEED_FLAGS on the first line of `text` that starts with `prefix` (`flags` in /proc/cpuinfo, `Flags:` in
    lscpu's output), in SPEED_FLAGS' order; None when there is no such line (an ARM CPU lists `Features`)."""
    for line in text.splitlines():
        if line.startswith(prefix):
            present = set(line.split(":", 1)[1].split())
            return [flag for flag in SPEED_FLAGS if flag in present]
    return None


def cpu_flags() -> list[str] | None:
    """This CPU's SPEED_FLAGS, from /proc/cpuinfo; None where it has no x86 flags line or there is no such file."""
    try:
        return speed_flags(Path("/proc/cpuinfo").read_text(), "flags")
    except OSError:
        return None
