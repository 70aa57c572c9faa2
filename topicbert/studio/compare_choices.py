"""Which runs Compare sets side by side: the runs it opens on, the baselines it can take as the reference, and
the groups of runs that differ only by seed, which its summary takes together."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config import RunConfig
from ..runs.store import Store
from .figures import BASELINE_ROLE, TFIDF_ROLE
from .run_identity import TOPICBERT_ROLE, existing_runs, finished_runs, role_of, run_label


def default_runs(store: Store) -> list[int] | None:
    """The newest finished TopicBERT run whose paired baseline also finished, with the runs that differ from it
    only by seed (their baselines finished too), those baselines, and the finished TF-IDF references queued with
    them; None if there is no such pair."""
    done = {run["id"]: run for run in finished_runs(store)}
    paired = [run for run in done.values() if role_of(run) == TOPICBERT_ROLE and run["paired_run_id"] in done]
    if not paired:
        return None
    newest = RunConfig.from_dict(paired[0]["config"]).seed_group  # finished_runs: newest first
    ours = [run["id"] for run in paired if RunConfig.from_dict(run["config"]).seed_group == newest]
    baselines = list(dict.fromkeys(done[i]["paired_run_id"] for i in ours))
    return ours + baselines + [other["id"] for other in done.values()
                               if role_of(other) == TFIDF_ROLE and other["paired_run_id"] in ours + baselines]


def baseline_choices(store: Store, run_ids: Sequence[int]) -> list[int]:
    """The baselines among these runs: what retained F1, speedup and energy saved can be taken against."""
    return [run["id"] for run in existing_runs(store, run_ids) if role_of(run) == BASELINE_ROLE]


@dataclass(frozen=True)
class SeedGroup:
    """Runs that differ only by seed (RunConfig.seed_group), in the order of their seeds: Compare's summary
    takes them together, its intervals over the seeds and their test documents."""
    runs: list[dict]

    @property
    def ids(self) -> list[int]:
        return [run["id"] for run in self.runs]

    @property
    def label(self) -> str:
        if len(self.runs) == 1:
            return run_label(self.runs[0])
        return f"{self.runs[0]['name']} × {len(self.runs)} seeds ({', '.join(f'#{i}' for i in self.ids)})"


def seed_groups(runs: Sequence[dict]) -> list[SeedGroup]:
    """The runs in groups that differ only by seed, each where its first run stands."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(RunConfig.from_dict(run["config"]).seed_group, []).append(run)
    return [SeedGroup(sorted(members, key=seed_of)) for members in groups.values()]


def seeds_beside(store: Store, run_ids: Sequence[int], run: dict) -> list[int]:
    """The seeds of `run`'s group among these runs (the runs that differ from it only by seed)."""
    key = RunConfig.from_dict(run["config"]).seed_group
    return sorted(seed_of(other) for other in existing_runs(store, run_ids)
                  if RunConfig.from_dict(other["config"]).seed_group == key) or [seed_of(run)]


def seed_of(run: dict) -> int:
    return RunConfig.from_dict(run["config"]).seed
