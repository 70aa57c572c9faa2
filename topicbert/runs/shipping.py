"""A run's files between machines, as bytes: what a run folder holds (a Ray node starts from it), what
changed in the node's copy since it last sent some, and writing what a node sent into the store's
machine's run folder: each folder (checkpoint/, best/) replaced whole and each file renamed into place,
so a node that dies while sending leaves the run folder as it was.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

from ..data.shared_texts import texts_digest
from ..training.checkpoints import SwappedFolder

CHECKPOINT = "checkpoint"  # the resumable checkpoint: it travels only with the step the store records for it
STAYS_HERE = ("config.json",)  # the store's machine wrote it; a node never sends it back
PARTIAL_SUFFIXES = (".tmp",)  # a folder or file being written: never sent


@dataclass
class Shipment:
    run_files: dict[str, bytes] = field(default_factory=dict)  # path inside the run folder -> content
    texts: dict[str, bytes] = field(default_factory=dict)  # file name in TOPICBERT_HOME/texts -> content

    def __bool__(self) -> bool:
        return bool(self.run_files or self.texts)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(
        part.endswith(PARTIAL_SUFFIXES) for part in p.relative_to(folder).parts))


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every whole file under `folder`, by its path inside it."""
    if not folder.is_dir():
        return {}
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in _files(folder)}


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise ValueError(f"a shipped file may not name {name!r}")
    return path


def write_folder(files: dict[str, bytes], folder: Path) -> None:
    """Put `files` (read_folder's) under `folder`, as they are."""
    for name, content in files.items():
        path = folder / _safe(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def _write_whole_file(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def _checked_text_name(name: str, content: bytes) -> str:
    """The name a shipped list of texts is kept under: its digest as computed here (every run tested on
    those documents shares the file, so a node may not choose what it names)."""
    path = _safe(name)
    try:
        texts = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the texts sent as {name} are not JSON ({error})") from None
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise ValueError(f"the texts sent as {name} are not a list of texts")
    if path.suffix != ".json" or path.stem != texts_digest(texts):
        raise ValueError(f"the texts sent as {name} are not what that name says: their digest is "
                         f"{texts_digest(texts)}")
    return name


def receive(shipment: Shipment, run_dir: Path, texts_dir: Path) -> None:
    """Write what a node sent into the run's folder here (and the shared test texts, each checked against
    the digest that names it), each part whole; nothing is written if any part is refused."""
    texts = {_checked_text_name(name, content): content for name, content in shipment.texts.items()}
    entries: dict[str, dict[str, bytes]] = {}
    for name, content in shipment.run_files.items():
        path = _safe(name)
        if path.parts[0] in STAYS_HERE:
            raise ValueError(f"a node may not replace {name}")
        entries.setdefault(path.parts[0], {})[PurePosixPath(*path.parts[1:]).as_posix()] = content
    run_dir.mkdir(parents=True, exist_ok=True)
    for entry, files in entries.items():
        if set(files) == {"."}:  # a file at the top of the run folder
            _write_whole_file(run_dir / entry, files["."])
        else:
            SwappedFolder(run_dir / entry).write(partial(write_folder, files))
    texts_dir.mkdir(parents=True, exist_ok=True)
    for name, content in texts.items():
        target = texts_dir / _safe(name).name
        if not target.exists():  # named by their content: one already here is the same
            _write_whole_file(target, content)


def _signature(path: Path) -> tuple:
    """What tells whether an entry changed: each file's path, size and modification time."""
    stats = [path.stat()] if path.is_file() else [p.stat() for p in _files(path)]
    names = [path.name] if path.is_file() else [p.relative_to(path).as_posix() for p in _files(path)]
    return tuple((name, s.st_size, s.st_mtime_ns) for name, s in zip(names, stats))


class Outbox:
    """The node's side: what of its copy of a run folder (and of the test texts) it has sent. What is
    there when it is made came from the store's machine, so it counts as sent."""

    def __init__(self, run_dir: Path, texts_dir: Path) -> None:
        self.run_dir, self.texts_dir = run_dir, texts_dir
        self._sent = self._signatures()

    def _entries(self) -> dict[str, Path]:
        found = {p.name: p for p in self.run_dir.iterdir()} if self.run_dir.is_dir() else {}
        if self.texts_dir.is_dir():
            found.update({f"texts/{p.name}": p for p in self.texts_dir.iterdir()})
        return {key: path for key, path in found.items()
                if path.name not in STAYS_HERE and not path.name.endswith(PARTIAL_SUFFIXES + (".old",))}

    def _signatures(self) -> dict[str, tuple]:
        return {key: _signature(path) for key, path in self._entries().items()}

    def changed(self, with_checkpoint: bool = False, only: Sequence[str] | None = None) -> Shipment:
        """What changed since the last shipment (the entries `only` names, if given); the resumable
        checkpoint only `with_checkpoint`. What it returns counts as sent."""
        shipment = Shipment()
        for key, path in self._entries().items():
            if (only is not None and key not in only) or (key == CHECKPOINT and not with_checkpoint):
                continue
            signature = _signature(path)
            if self._sent.get(key) == signature:
                continue
            if key.startswith("texts/"):
                shipment.texts[path.name] = path.read_bytes()
            elif path.is_file():
                shipment.run_files[key] = path.read_bytes()
            else:
                shipment.run_files.update({f"{key}/{name}": content for name, content in read_folder(path).items()})
            self._sent[key] = signature
        return shipment
