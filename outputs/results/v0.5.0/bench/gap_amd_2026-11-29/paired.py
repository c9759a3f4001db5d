"""Per-repeat project/bare ratios of bench.json (the loops run interleaved, so each repeat is a pair): their median
and range, beside bench's ratio of medians. `python paired.py bench.json...`"""
import json, statistics, sys
for path in sys.argv[1:]:
    train = json.load(open(path))["train"]
    for batch, row in train.items():
        ratios = [p / b for p, b in zip(row["all"]["project"], row["all"]["bare"])]
        print(f"{path}: batch {batch}: ratio of medians {row['ratio_project_bare']:.3f}; per-repeat ratios median "
              f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}, n={len(ratios)})")
