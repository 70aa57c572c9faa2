"""The literature's topic coherence: NPMI of each topic's top words over sliding windows of the texts,
as gensim's CoherenceModel(coherence="c_npmi") computes it (Röder et al. 2015; the yardstick of the
ProdLDA, CombinedTM and BERTopic papers). The project's own NPMI (metrics.npmi_coherence) counts
whole documents instead; the two are not comparable, so the Studio shows both.

The protocol, step by step:
- The texts are token sequences (here: each text's vocabulary words in reading order).
- A text with none of the scored topics' words is left out (gensim skips it).
- Each other text of n tokens gives n - w + 1 windows of w consecutive tokens (w = 10), or one
  window, the whole text, when n < w. N is the number of windows.
- p(a) is the share of windows holding word a, p(a, b) the share holding both.
- NPMI(a, b) = log((p(a, b) + e) / (p(a) p(b))) / -log(p(a, b) + e), with e = 1e-12: a pair that
  never meets scores a little above -1, as in gensim.
- A topic's coherence is the mean over its pairs of top words; the model's, the mean over topics.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.lib.stride_tricks import sliding_window_view

WINDOW = 10
EPSILON = 1e-12
# texts per sparse block: a block's windows x words matrix stays a few megabytes
TEXTS_PER_BLOCK = 500


def window_counts(sequences: Sequence[np.ndarray], words: np.ndarray, window: int = WINDOW
                  ) -> tuple[int, np.ndarray, np.ndarray]:
    """(N windows, (R,) windows holding each of `words`, (R, R) windows holding both of two), over
    the texts that hold at least one of `words`."""
    size = max([int(words.max(initial=-1))] + [int(s.max()) for s in sequences if len(s)]) + 1
    position = np.full(size, -1, dtype=np.int64)                          # word id -> its column, or -1
    position[words] = np.arange(len(words))
    n_windows, occurrences, together = 0, np.zeros(len(words)), np.zeros((len(words), len(words)))
    for start in range(0, len(sequences), TEXTS_PER_BLOCK):
        blocks = []
        for sequence in sequences[start:start + TEXTS_PER_BLOCK]:
            relevant = position[sequence]                                  # -1: not a scored word
            if not (relevant >= 0).any():
                continue
            span = min(window, len(relevant))
            windows = sliding_window_view(relevant, span)                  # (n - span + 1, span)
            rows = np.repeat(np.arange(len(windows)), span)
            kept = windows.ravel() >= 0
            blocks.append(sp.csr_matrix((np.ones(kept.sum()), (rows[kept], windows.ravel()[kept])),
                                        shape=(len(windows), len(words))))
        if not blocks:
            continue
        present = sp.vstack(blocks).tocsr()
        present.data[:] = 1.0                                              # a word twice in a window counts once
        n_windows += present.shape[0]
        occurrences += np.asarray(present.sum(axis=0)).ravel()
        together += (present.T @ present).toarray()
    return n_windows, occurrences, together


def window_npmi(topics_word_ids: Sequence[Sequence[int]], sequences: Sequence[np.ndarray],
                window: int = WINDOW) -> list[float]:
    """Each topic's NPMI over sliding windows of `sequences` (each text's word ids in order)."""
    words = np.unique(np.concatenate([np.asarray(ids, dtype=np.int64) for ids in topics_word_ids]))
    n_windows, occurrences, together = window_counts(sequences, words, window)
    column = {word: i for i, word in enumerate(words.tolist())}
    scores = []
    for word_ids in topics_word_ids:
        ids = [column[int(w)] for w in word_ids]
        pairs = []
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                a, b = ids[i], ids[j]
                if occurrences[a] == 0 or occurrences[b] == 0:
                    pairs.append(-1.0)  # a word the texts never hold (gensim would divide by zero)
                    continue
                p_ab = together[a, b] / n_windows
                pmi = np.log((p_ab + EPSILON) / (occurrences[a] / n_windows * occurrences[b] / n_windows))
                pairs.append(float(pmi / -np.log(p_ab + EPSILON)))
        scores.append(float(np.mean(pairs)) if pairs else 0.0)
    return scores
