"""One training run: config checks, building, callbacks, checkpoints, diagnostics, metrics.json and provenance."""
