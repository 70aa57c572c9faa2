"""Runs that outlive the browser: the SQLite store (every query of the project lives in store.py),
the queue's worker and which GPUs each run gets (gpus), what it runs them as (launchers: process groups
here), the runner that trains one queued run and what it asks of the store (run_store; its heartbeat and
the sampler of the machine's load, machine_load, are both periodic threads), the saved
corpus list (uploads read in a child process), the services that pages and the command line call
(submit, cancel, resume, export, status; cancel and resume of prediction jobs, whose process the worker
starts and whose rows the store keeps, studio/predict_job.py running them), and storage (disk use, deleting
a run or a corpus whole, gc).
The queue on a Ray cluster lives in ray/ (the worker's runs as Ray tasks, what trains on a node, the store's
side of it, the run files that travel between them); only `worker --ray` imports Ray.

May import: config, paths, model, data, training, energy.
"""
