"""The queue served on a Ray cluster (`python -m topicbert worker --ray`): cluster (joining one), launcher (the
worker's runs as Ray tasks), node (what trains on a node), store_service (the store's side of it, on the
store's machine) and shipping (a run's files between them). Only `worker --ray` and the tasks it sends import
Ray; this package's `__init__` does not, so the pages and the local worker can name RAY_DEVICE without it.

May import: config, paths, model, data, training, energy (and the rest of runs/).
"""

RAY_DEVICE = "ray"  # a run's device once the Ray worker claimed it, until its runner names the device it found
