"""Home's first load does not wait for torch: what app.py (Home) imports as it starts leaves torch and
transformers unloaded, so the page shows before anything that trains, or projects a run's cost, loads them."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ["torch", "transformers"]
LAUNCH = "topicbert.studio.launch"  # the demo's projection, which imported torch at its top


def home_imports() -> list[str]:
    """app.py's own import statements, as written: its top level (a function's imports wait for its call)."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    return [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_importing_what_home_imports_loads_neither_torch_nor_transformers():
    statements = home_imports()
    # a fresh interpreter (this one may have loaded torch for other tests), in the app's folder as `streamlit run`
    # runs it; the modules it names as loaded show the probe reads them (the demo's module, which loaded torch)
    probe = "\n".join(["import json, sys", *statements,
                       f"print(json.dumps([name for name in {[*HEAVY, LAUNCH]!r} if name in sys.modules]))"])
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert LAUNCH in loaded, f"Home no longer imports {LAUNCH}: the probe cannot tell, point it at what does"
    heavy = [name for name in loaded if name != LAUNCH]
    assert not heavy, (f"importing what Home imports loads {heavy}; `python -X importtime -c '...'` with app.py's "
                       "imports shows which module does")
