"""Energy and CO2: codecarbon's offline readings of a run, the carbon intensity of every country and
region in its offline tables (grid), and a run's projected cost before it runs.

May import: config, data.
"""
