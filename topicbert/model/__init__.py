"""The models: the topic models (NVDM, the paper's; ProdLDA, for coherent topics; CombinedTM, ProdLDA
that also reads each document's embedding), the TopicBERT module and its baseline head, encoder loading.

nn.Modules only: no files, no store, no corpus. May import: config (nothing else of topicbert).
"""
