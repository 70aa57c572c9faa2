"""The benchmarks: every variant side by side in one process (with the Hugging Face Trainer
reference), the loop's overhead over a bare loop, and the PNG plot.

May import: config, paths, model, data, training, energy.
"""
