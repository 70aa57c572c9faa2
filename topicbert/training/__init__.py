"""Training one run: the loop (it reports through callbacks and knows nothing of SQLite or Streamlit),
the TF-IDF reference, topic-model pretraining (with the documents' embeddings a contextual topic model
reads), evaluation, checkpoints, the result files a run leaves in its folder, metrics (F1, NPMI over
documents; F1's bootstrap intervals are stats/'s), topic quality (with the literature's NPMI over 10-word
windows), and the device.

May import: config, paths, model, data, stats.
"""
