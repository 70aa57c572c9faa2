"""What CombinedTM's document embeddings add to a TopicBERT run's encoder work, counted in model FLOPs
(bench/flops.py), so the figure does not depend on how busy the machine is. Before the first step: the training and
validation documents' embeddings (forward only, at most 128 word pieces, in length-sorted batches of 64 as
document_embeddings runs them) against the run's training steps (forward and backward) and its validation after
each epoch. When classifying: the test documents' embeddings against the test pass itself. Seconds need a quiet
machine: the bench's train s and infer columns of a `topicbert-128+combinedtm` row against a
`topicbert-128+prodlda` row.

    python -m benchmarks.embedding_cost --corpus ../shared/data/reuters8 --max-len 128 --epochs 2 \\
        --limit-train 1500 --limit-eval 500
"""
from __future__ import annotations

from benchmarks import script_parser
from topicbert.bench.flops import forward_flops_per_sequence
from topicbert.bench.side_by_side import step_shapes
from topicbert.config import RunConfig
from topicbert.data.batching import make_examples, sorted_order
from topicbert.data.splits import SplitData, prepare_data
from topicbert.model.encoders import encoder_dimensions, load_tokenizer
from topicbert.training.document_embeddings import EMBEDDING_PIECES
from topicbert.training.loop import epoch_batches


def forward_flops(lengths: list[int], batch_size: int, dimensions: tuple[int, int, int]) -> float:
    """Forward FLOPs of sequences of these lengths in length-sorted batches, padding included."""
    return sum(len(rows) * forward_flops_per_sequence(max(lengths[i] for i in rows), *dimensions)
               for rows in sorted_order(lengths, batch_size))


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--limit-eval", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    config = RunConfig(corpus=args.corpus, max_len=args.max_len, epochs=args.epochs, limit_train=args.limit_train,
                       limit_eval=args.limit_eval, seed=args.seed)
    tokenizer = load_tokenizer(config.model)
    data = prepare_data(config, tokenizer)
    dimensions = encoder_dimensions(config.model)

    def embedding_flops(*splits: SplitData) -> float:
        lengths = [len(e.input_ids) for s in splits for e in make_examples(
            s.token_ids, EMBEDDING_PIECES, "truncate", tokenizer.cls_token_id, tokenizer.sep_token_id)]
        return forward_flops(lengths, 64, dimensions)

    before = embedding_flops(data.train, data.validation)
    steps = len(epoch_batches(data.train, config, 0, 0, 1)) * config.epochs
    training = sum(3 * rows * forward_flops_per_sequence(width, *dimensions)
                   for rows, width in step_shapes(config, data, steps))
    validation = config.epochs * forward_flops(data.validation.example_lengths, config.eval_batch_size, dimensions)
    classifying = forward_flops(data.test.example_lengths, config.eval_batch_size, dimensions)
    test_embeddings = embedding_flops(data.test)
    print(f"before the first step: {len(data.train) + len(data.validation):,} documents embedded, "
          f"{before / 1e12:.1f} TFLOPs, against {config.name}'s {steps} training steps ({training / 1e12:.1f} TFLOPs) "
          f"and {config.epochs} validations ({validation / 1e12:.1f} TFLOPs): +{before / (training + validation):.0%}; "
          f"classifying {len(data.test):,} test documents: {test_embeddings / 1e12:.1f} TFLOPs of embeddings against "
          f"{classifying / 1e12:.1f} TFLOPs: +{test_embeddings / classifying:.0%}")


if __name__ == "__main__":
    main()
