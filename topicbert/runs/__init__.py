"""Runs that outlive the browser: the SQLite store (every query of the project lives in store.py),
the queue's worker, the runner that trains one queued run (and samples the machine's load meanwhile:
machine_load), the saved corpus list (uploads read in a
child process), the services that pages and the command line call (submit, cancel, resume, export,
status), and storage (disk use, deleting a run or a corpus whole, gc).

May import: config, paths, model, data, training, energy.
"""
