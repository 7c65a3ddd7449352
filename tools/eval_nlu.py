"""Evaluate the trained NLU model on the held-out split in tests/nlu/ with `rasa test nlu`.

    .venv/engine/bin/python -m tools.eval_nlu [--model PATH] [--config other.yml]

Prints accuracy, weighted/macro F1 and per-intent F1. tests/engine/test_nlu_evaluation.py asserts the
thresholds below; the README states the current figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Optional

from tools.model import ENGINE_BIN, ROOT, engine_env, model_path

TEST_SPLIT = ROOT / "tests" / "nlu"
MIN_ACCURACY = 0.85
MIN_WEIGHTED_F1 = 0.85


def evaluate(model: Optional[Path] = None, out_dir: Optional[Path] = None) -> Dict:
    """Run `rasa test nlu` on the held-out split and return Rasa's intent report (as a dict)."""
    model = model or model_path()
    if not model.exists():
        raise FileNotFoundError(f"no trained model at {model}; run `make train`")
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="nlu-eval-"))
    cmd = [str(ENGINE_BIN / "rasa"), "test", "nlu", "--model", str(model), "--nlu", str(TEST_SPLIT),
           "--out", str(out_dir), "--no-plot", "--successes"]
    subprocess.run(cmd, cwd=ROOT, env=engine_env(), check=True, stdout=subprocess.DEVNULL)
    return json.loads((out_dir / "intent_report.json").read_text())


def summary(report: Dict) -> str:
    lines = [
        f"accuracy      {report['accuracy']:.3f}",
        f"weighted F1   {report['weighted avg']['f1-score']:.3f}",
        f"macro F1      {report['macro avg']['f1-score']:.3f}",
        "per intent (F1, support):",
    ]
    for name, row in sorted(report.items()):
        if isinstance(row, dict) and "support" in row and not name.endswith("avg"):
            lines.append(f"  {name:<22} {row['f1-score']:.3f}  {row['support']}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    print(summary(evaluate(args.model)))
