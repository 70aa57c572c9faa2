"""TopicBERT Studio: TopicBERT (BERT + NVDM topic model) against a BERT baseline, with energy and CO2."""
