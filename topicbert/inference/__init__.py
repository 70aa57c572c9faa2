"""A finished run's model put to use: loading it back as a classifier (classifier), the model folder that
travels without the store (model_folder: what it holds, its format and version checks, exporting one; its
model card: model_card), and classifying a file larger than memory chunk by chunk (predict_file). It calls
what the evaluation calls (data.splits.encode_split, training.evaluation.evaluate, the CombinedTM embedding
pass), so a run's test documents get the very predictions the run stored.

It knows nothing of the store: the runs/ and studio/ side turns a run id into a folder and its facts.

May import: config, paths, model, data, training, energy, stats.
"""
