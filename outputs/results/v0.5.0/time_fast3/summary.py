"""Prints the time_fast3 sitting: per recipe, test accuracy per seed, mean fit + test seconds, precision, the ratio."""

import json
import statistics
from pathlib import Path

folder = Path(__file__).parent
totals = {}
for recipe in ("fast_v2", "fast"):
    runs = [json.loads((folder / recipe / f"seed{s}" / "metrics.json").read_text()) for s in (1, 2, 3)]
    accs = [100 * m["test/acc"] for m in runs]
    seconds = [m["train_seconds"] + m["test_seconds"] for m in runs]
    totals[recipe] = statistics.mean(seconds)
    print(f"{recipe}: test acc {', '.join(f'{a:.2f}' for a in accs)} (mean {statistics.mean(accs):.2f}, "
          f"min {min(accs):.2f}); fit + test s {', '.join(f'{s:.1f}' for s in seconds)} (mean {totals[recipe]:.1f}); "
          f"precision {sorted({m['precision'] for m in runs})}; params {runs[0]['params']:,}; "
          f"fit TFLOP {runs[0]['flops']['fit'] / 1e12:.2f}; commit {runs[0]['provenance']['git_commit'][:7]}; "
          f"dirty tree in seeds {[s for s, m in zip((1, 2, 3), runs, strict=True) if m['provenance']['git_dirty']] or 'none'}")
print(f"fast / fast_v2, fit + test: {totals['fast'] / totals['fast_v2']:.2f}x")
