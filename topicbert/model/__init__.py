"""The models: the topic models (NVDM, the paper's; ProdLDA, for coherent topics), the TopicBERT
module and its baseline head, encoder loading.

nn.Modules only: no files, no store, no corpus. May import: config (nothing else of topicbert).
"""
