"""The benchmarks: every variant side by side in one process (with the Hugging Face Trainer and
TF-IDF references), its rows with intervals and verdicts, model FLOPs, the loop's overhead over a
bare loop, the PNG plot, and runs of other seeds merged into one report.

May import: config, paths, model, data, training, energy, stats.
"""
