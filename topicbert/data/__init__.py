"""Documents from disk to batches: CSV, TSV and JSONL records read as streams (shared with prediction
over a file), corpus readers with clear errors, uploads, splits and limits, the topic
vocabulary and sparse bag of words, tokenising, truncate/partition batching, the token cache (one
folder per corpus, which also keeps arrays computed from its pieces: the documents' embeddings), the
test texts runs share (kept once).

May import: config, paths. Never the model, training, runs or studio folders.
"""
