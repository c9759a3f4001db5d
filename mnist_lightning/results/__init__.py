"""Results read back from run folders: jobs, tables, pooling over seeds, the frontier and time tables, plots."""
