"""Topic vocabulary and sparse bag-of-words: words a person reads, fitted on the training split only.

What a topic word is (`topic_tokens`), in order:
- Curly apostrophes count as straight ones. Text in a run of more than 25 characters without a space
  holds no words: encoded files (a uuencoded attachment's "M9V]B8F..." lines), long addresses, paths.
- A word is letters and digits, possibly joined by inner apostrophes ("o'neill"); initials with
  periods stay one word ("U.S." -> "u.s.").
- A possessive 's goes ("bank's" -> "bank"); a contraction ("we've", "don't", "i'll", "she'd",
  "i'm") is a function word and goes whole, so its pieces ("ve", "don", "ll") never become words.
- A word needs at least two letters: single letters ("b", initials written "J. K. Rowling") and
  numbers ("1987", "3d") go. A word of two letters counts only written in capitals ("UK", "TV",
  "U.S."): in lower case it is a piece ("ve", "re"), part of an address ("cs.cmu.edu"), or a title
  ("Ms", "Mr").
- Lowercased, stop words go: scikit-learn's English list, contractions written without an apostrophe
  ("dont", "im"), their pieces where a corpus split them ("don t", "we ve") and honorifics ("mr", "ms").

Then, by the TopicBERT paper's recipe: words in fewer than `min_df` training documents go, and
the most frequent `drop_top` share of the vocabulary; then words in more than `max_df` of the
training documents (they say nothing about any one topic: "said", a newsgroup's header lines);
the rest, most frequent first, up to `max_size` words.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

# initials with periods ("u.s.", "e.g."), else letters and digits joined by inner apostrophes
WORD = re.compile(r"(?:[^\W\d_]\.){2,}|[^\W_]+(?:'[^\W_]+)*")
# more than 25 characters without a space: no English word is that long, encoded data and paths are
NO_SPACE_RUN = re.compile(r"\S{26,}")
CONTRACTION = re.compile(r"(?:n't|'ve|'ll|'re|'d|'m)$")
LETTER = re.compile(r"[^\W\d_]")
# what scikit-learn's list lacks: contractions typed without an apostrophe, the pieces a corpus leaves
# when it splits them ("don t", "we ve"; "t", "s" and "d" go as single letters), honorifics, initialisms
# that are function words
EXTRA_STOP_WORDS = frozenset("""
    dont didnt doesnt isnt wasnt arent werent havent hasnt hadnt wouldnt couldnt shouldnt cant aint
    im ive youre youve youll theyre theyve weve thats theres whats lets
    don didn doesn isn wasn aren weren haven hasn hadn wouldn couldn shouldn ve ll
    mr mrs ms dr jr sr st e.g. i.e. a.m. p.m. etc
""".split())
STOP_WORDS = ENGLISH_STOP_WORDS | EXTRA_STOP_WORDS


class VocabularyError(ValueError):
    """The settings leave no topic words for this corpus."""


def topic_tokens(text: str) -> list[str]:
    """The topic words of `text`, in order (the rules in this module's docstring)."""
    tokens = []
    for match in WORD.finditer(NO_SPACE_RUN.sub(" ", text.replace("\u2019", "'").replace("\u2018", "'"))):
        word = match.group()
        if word.lower().endswith("'s"):
            word = word[:-2]
        elif CONTRACTION.search(word.lower()):
            continue
        letters = len(LETTER.findall(word))
        if letters < 2 or (letters == 2 and not word.isupper()) or word.lower() in STOP_WORDS:
            continue
        tokens.append(word.lower())
    return tokens


@dataclass(frozen=True)
class TopicVocabulary:
    words: tuple[str, ...]

    @classmethod
    def fit(cls, texts: Sequence[str], min_df: int = 10, drop_top: float = 0.001, max_size: int = 20000,
            max_df: float = 1.0) -> TopicVocabulary:
        # min_df larger than the corpus would reject every word; clamp for tiny corpora
        min_df = max(1, min(min_df, len(texts) // 2))
        counter = CountVectorizer(analyzer=topic_tokens, min_df=min_df, dtype=np.int64)
        try:
            counts = counter.fit_transform(texts)
        except ValueError as error:  # sklearn: "empty vocabulary"
            raise VocabularyError(f"no topic words left ({error}); lower bow_min_df") from error
        words = counter.get_feature_names_out()
        frequency = np.asarray(counts.sum(axis=0)).ravel()
        in_docs = np.asarray((counts > 0).sum(axis=0)).ravel()
        by_frequency = np.argsort(-frequency, kind="stable")
        n_drop = math.ceil(drop_top * len(words)) if drop_top > 0 else 0
        kept = [i for i in by_frequency[n_drop:] if in_docs[i] <= max_df * len(texts)][:max_size]
        if len(kept) == 0:
            raise VocabularyError("no topic words left after dropping the most frequent; lower bow_drop_top")
        return cls(tuple(sorted(words[i] for i in kept)))

    def __len__(self) -> int:
        return len(self.words)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Word counts, documents x vocabulary, float32 CSR (kept sparse until the batch)."""
        counter = CountVectorizer(analyzer=topic_tokens, vocabulary=list(self.words), dtype=np.float32)
        return counter.transform(texts).tocsr()

    def word_sequences(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text as the ids of its vocabulary words in reading order (other words left out): the
        texts as the topic model sees them, which sliding-window coherence reads."""
        index = {word: i for i, word in enumerate(self.words)}
        return [np.array([index[w] for w in topic_tokens(text) if w in index], dtype=np.int64) for text in texts]

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(list(self.words)))

    @classmethod
    def load(cls, path: Path) -> TopicVocabulary:
        return cls(tuple(json.loads(Path(path).read_text())))
