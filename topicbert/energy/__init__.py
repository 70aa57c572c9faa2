"""Energy and CO2: codecarbon's offline readings of a run, and a run's projected cost before it runs.

May import: config, data.
"""
