"""Rasa's own commands keep working on the project (here: `rasa data validate`)."""

import json
import subprocess
from pathlib import Path

import yaml

from tools.model import ENGINE_BIN, ROOT, engine_env
from tools.stack import Stack


def test_rasa_data_validate_passes():
    result = subprocess.run([str(ENGINE_BIN / "rasa"), "data", "validate", "--fail-on-warnings"],
                            cwd=ROOT, env=engine_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_launcher_endpoints_match_the_repository_defaults(tmp_path):
    """`make run` writes endpoints for its ports; with default ports it must equal endpoints.yml."""
    repo = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    stack = Stack(data_dir=ROOT / "var")
    generated = json.loads(Path(stack._endpoints_file()).read_text())
    assert generated["action_endpoint"] == repo["action_endpoint"]
    assert {k: v for k, v in generated["tracker_store"].items() if k != "db"} == \
           {k: v for k, v in repo["tracker_store"].items() if k != "db"}
    assert Path(generated["tracker_store"]["db"]) == ROOT / repo["tracker_store"]["db"]
