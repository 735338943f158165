"""District-scale benchmarks (not tests): python -m benchmarks.NAME; results in docs/."""
