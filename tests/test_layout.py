"""The folders of topicbert/ and the direction of their imports, as topicbert/__init__.py draws them."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "topicbert"
# what each part may import from the rest of topicbert (itself always)
ALLOWED = {
    "config": set(),
    "paths": set(),
    # the statistics that compare runs: numpy and scipy alone (test_stats_needs_only_numpy_and_scipy)
    "stats": set(),
    "model": {"config"},
    "data": {"config", "paths"},
    "training": {"config", "paths", "model", "data", "stats"},
    "energy": {"config", "data"},
    "inference": {"config", "paths", "model", "data", "training", "energy", "stats"},
    "runs": {"config", "paths", "model", "data", "training", "energy"},
    # the queue on a Ray cluster, a folder of runs/ of its own; only `worker --ray` imports it (and Ray)
    "runs/ray": {"config", "paths", "model", "data", "training", "energy", "runs"},
    "studio": {"config", "paths", "model", "data", "training", "energy", "runs", "inference", "stats"},
    "bench": {"config", "paths", "model", "data", "training", "energy", "stats"},
    "cli": {"config", "paths", "model", "data", "training", "energy", "runs", "studio", "bench", "inference",
            "stats"},
    "__main__": {"cli"},
    # load_classifier, imported when first asked for (studio/classify.py: a run id or a model folder)
    "__init__": {"studio"},
}
# the pages, the home page and their shared widgets: they show what studio/ and runs/ prepare, and
# reach the model, the data, training and energy only through them
APP = sorted([ROOT / "app.py", ROOT / "widgets.py", *(ROOT / "app_pages").glob("*.py")])
APP_MAY_IMPORT = {"studio", "runs", "config", "paths"}
SQL = re.compile(r"\b(SELECT\s+\S+.*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|"
                 r"ALTER\s+TABLE|BEGIN\s+IMMEDIATE)\b", re.IGNORECASE)


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def part_of(path: Path) -> str:
    """'runs' for topicbert/runs/store.py, 'runs/ray' for topicbert/runs/ray/node.py, 'cli' for topicbert/cli.py."""
    relative = path.relative_to(PACKAGE)
    if len(relative.parts) > 2 and "/".join(relative.parts[:2]) in ALLOWED:
        return "/".join(relative.parts[:2])
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_names(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved to topicbert.X names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # relative imports are resolved inside the package; the app's files have none
    package = ["topicbert", *path.relative_to(PACKAGE).parent.parts] if path.is_relative_to(PACKAGE) else []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import x: each x is a module of that package
                    names.update(f"{module}.{alias.name}" for alias in node.names)
                    continue
            else:
                module = node.module or ""
            names.add(module)
    return names


def topicbert_parts(path: Path) -> set[str]:
    return {name.split(".")[1] for name in imported_names(path)
            if name.startswith("topicbert.") and len(name.split(".")) > 1}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path):
    part = part_of(path)
    assert part in ALLOWED, f"{path.relative_to(ROOT)}: a part of topicbert/ that the layer map does not know"
    wrong = topicbert_parts(path) - ALLOWED[part] - {part}
    assert not wrong, (f"{path.relative_to(ROOT)} ({part}) imports {sorted(wrong)}; "
                       f"it may import {sorted(ALLOWED[part])}")


@pytest.mark.parametrize("path", APP, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_app_imports_only_studio_runs_config_and_paths(path):
    wrong = {name for name in imported_names(path) if name.startswith("topicbert")
             and (name == "topicbert" or name.split(".")[1] not in APP_MAY_IMPORT)}
    assert not wrong, f"{path.name} imports {sorted(wrong)}; the app may import {sorted(APP_MAY_IMPORT)}"


def test_the_app_rule_fails_on_a_page_that_reaches_past_studio(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("from topicbert.data.corpus import CorpusError\nimport topicbert.model.encoders\n"
                    "from topicbert.studio import run_identity\n")
    with pytest.raises(AssertionError, match="topicbert.data.corpus"):
        test_the_app_imports_only_studio_runs_config_and_paths(page)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_in_the_package_imports_streamlit(path):
    assert not any(name == "streamlit" or name.startswith("streamlit.") for name in imported_names(path))


@pytest.mark.parametrize("path", sorted((PACKAGE / "stats").glob("*.py")), ids=lambda p: p.name)
def test_stats_needs_only_numpy_and_scipy(path):
    outside = {name.split(".")[0] for name in imported_names(path)} - set(sys.stdlib_module_names) - {"topicbert"}
    assert outside <= {"numpy", "scipy"}, f"stats/{path.name} imports {sorted(outside - {'numpy', 'scipy'})}"


def test_all_sql_is_in_the_store():
    holders = {str(path.relative_to(ROOT)) for path in modules() if SQL.search(path.read_text(encoding="utf-8"))}
    assert holders == {"topicbert/runs/store.py"}


def test_every_folder_says_what_it_holds_and_may_import():
    folders = [p for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert {p.name for p in folders} == {"model", "data", "training", "inference", "energy", "runs", "studio",
                                          "bench", "stats"}
    subfolders = [p.parent for p in PACKAGE.glob("*/*/__init__.py")]
    assert {str(p.relative_to(PACKAGE)) for p in subfolders} <= set(ALLOWED), "a folder the layer map does not know"
    for folder in folders + subfolders:
        name = str(folder.relative_to(PACKAGE))
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "May import" in doc, f"{name}/__init__.py needs a docstring with what it may import"
        stated = doc.split("May import:")[1]
        assert all(allowed in stated for allowed in ALLOWED[name]), f"{name}: its docstring and ALLOWED disagree"


def test_no_folder_streamlit_scans_by_name():
    """A pages/ folder beside app.py is Streamlit's own page list: opened on a page's link, the sidebar then
    named Home "app", after the script. The pages live in app_pages/, which app.py hands to st.navigation."""
    assert not (ROOT / "pages").exists() and (ROOT / "app_pages").is_dir()
