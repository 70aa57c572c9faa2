"""The multi-seed verdicts BENCHMARKS.md published before issue 20, read again with the Studio's intervals over
seeds (stats/noise.py). Their JSONs kept no test predictions, so the documents' shared variance cannot be
bootstrapped again: it is bracketed instead, from none (each seed on documents of its own) to one seed's whole
document variance (every seed on the same documents, their errors perfectly alike), the latter from that seed's
published paired interval. The seeds' part is exact: each seed's published difference.

    python -m benchmarks.reread_seed_verdicts
"""
from __future__ import annotations

import numpy as np

from benchmarks import script_parser
from topicbert.stats.noise import NoiseInterval, over_seeds

# (what, each seed's published difference, the half-width of one seed's published 95% paired interval,
#  whether every seed was tested on the same documents)
PUBLISHED = [
    ("Reuters8 1,500/500, 3 seeds: topicbert-128+nvdm - topicbert-128 (ProdLDA)",
     [0.8771 - 0.8937, 0.9309 - 0.9529, 0.9501 - 0.9574], None, False),
    ("20 Newsgroups 1,500 posts, seeds 43 and 44: bert-128 - bert-512",
     [0.6994 - 0.7228, 0.7448 - 0.7566], (0.0038 + 0.0156) / 2, True),
    ("20 Newsgroups 1,500 posts, seeds 43 and 44: topicbert-128 - bert-128",
     [0.7311 - 0.6994, 0.7485 - 0.7448], (0.0089 + 0.0047) / 2, True),
    ("20 Newsgroups 1,500 posts, seeds 42-44: topicbert-128 - bert-512",
     [0.7373 - 0.7408, 0.7311 - 0.7228, 0.7485 - 0.7566], (0.0064 + 0.0134) / 2, True),
    ("20 Newsgroups 1,500 posts, seeds 42-44: bert-128 - bert-512",
     [0.7351 - 0.7408, 0.6994 - 0.7228, 0.7448 - 0.7566], (0.0038 + 0.0156) / 2, True),
    ("20 Newsgroups 1,500 posts, seeds 42-44: topicbert-128 - bert-128",
     [0.7373 - 0.7351, 0.7311 - 0.6994, 0.7485 - 0.7448], (0.0089 + 0.0047) / 2, True),
    ("Reuters8 full, seeds 42 and 43: topicbert-128 - bert-512",
     [0.9309 - 0.9603, 0.9407 - 0.9496], (0.0365 + 0.0167) / 2, True),
    ("Reuters8 full, seeds 42 and 43: topicbert-128 - bert-128",
     [0.9309 - 0.9273, 0.9407 - 0.9333], (0.0200 + 0.0035) / 2, True),
    ("BBC News, seeds 42 and 43: topicbert-128 - bert-128",
     [-0.0051, +0.0082], None, False),
]


def with_shared(differences: list[float], shared_variance: float) -> NoiseInterval:
    """The interval when every seed's resampled difference shares `shared_variance` (and nothing else)."""
    k = len(differences)
    resampled = np.random.default_rng(0).normal(0, 1, 200_000)[None, :] * np.sqrt(shared_variance)
    return over_seeds(float(np.mean(differences)), differences, np.repeat(resampled, k, axis=0), bounds=(-1, 1))


def main(argv: list[str] | None = None) -> None:
    script_parser(__doc__, __file__).parse_args(argv)  # no options: --help alone
    for what, differences, one_seed_half_width, same_documents in PUBLISHED:
        largest = (one_seed_half_width / 1.96) ** 2 if one_seed_half_width is not None else 0.0
        narrow, wide = with_shared(differences, 0.0), with_shared(differences, largest)
        verdicts = {narrow.verdict, wide.verdict}
        said = verdicts.pop() if len(verdicts) == 1 else "depends on the documents' shared part"
        print(f"{what}: mean {narrow.value:+.4f}, per seed {', '.join(f'{d:+.4f}' for d in differences)}; "
              f"95% interval [{narrow.low:+.4f}, {narrow.high:+.4f}]"
              + (f" to [{wide.low:+.4f}, {wide.high:+.4f}]" if same_documents else "")
              + f"; verdict: {said}; smallest detectable difference {narrow.smallest_detectable():.4f}"
              + (f" to {wide.smallest_detectable():.4f}" if same_documents else ""))


if __name__ == "__main__":
    main()
