"""The benchmarks: every variant side by side in one process (with the Hugging Face Trainer and
TF-IDF references), its rows with intervals and verdicts, model FLOPs, the loop's overhead over a
bare loop, and the PNG plot.

May import: config, paths, model, data, training, energy.
"""
