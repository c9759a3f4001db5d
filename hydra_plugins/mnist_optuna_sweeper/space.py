"""The search space: Hydra's sweep syntax (`interval(0.001, 0.01)`, `choice(28, 64)`, `range(4, 9)`,
`tag(log, interval(...))`) read by Hydra's own override parser and turned into Optuna distributions."""

from __future__ import annotations

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

try:  # the [sweep] extra; importable without it, as sweeper.py says why
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
except ImportError:
    BaseDistribution = CategoricalDistribution = FloatDistribution = IntDistribution = None


def distribution(key: str, text: str) -> BaseDistribution:
    """The Optuna distribution of one `hydra.sweeper.params` entry."""
    sweep = OverridesParser.create().parse_override(f"{key}={text}").value()
    if isinstance(sweep, IntervalSweep):
        log = "log" in sweep.tags
        if "int" in sweep.tags or (isinstance(sweep.start, int) and isinstance(sweep.end, int)):
            return IntDistribution(int(sweep.start), int(sweep.end), log=log)
        return FloatDistribution(float(sweep.start), float(sweep.end), log=log)
    if isinstance(sweep, RangeSweep):
        return CategoricalDistribution(list(range(int(sweep.start), int(sweep.stop), int(sweep.step))))
    if isinstance(sweep, ChoiceSweep):
        return CategoricalDistribution(list(sweep.list))
    raise ValueError(f"hydra.sweeper.params.{key}={text}: use interval(a, b), choice(x, y, ...) or range(a, b)")


def as_override(key: str, value: object) -> str:
    """`key=value` as Hydra parses it back (booleans as true/false, strings quoted when they need it)."""
    if isinstance(value, bool):
        return f"{key}={str(value).lower()}"
    if isinstance(value, str) and not value.replace("_", "").replace(".", "").isalnum():
        return f"{key}='{value}'"
    return f"{key}={value}"
