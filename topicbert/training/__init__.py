"""Training one run: the loop (it reports through callbacks and knows nothing of SQLite or Streamlit),
the TF-IDF reference, topic-model pretraining, evaluation, checkpoints, the result files a run leaves
in its folder, metrics (F1 and its bootstrap intervals, NPMI), and the device.

May import: config, paths, model, data.
"""
