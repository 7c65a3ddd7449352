"""Rasa's own dialogue test: the stories in tests/stories/ (booking form, stop, handoff, manage) are
predicted exactly by the trained model (`rasa test core --fail-on-prediction-errors`)."""

import subprocess

from tools.model import ENGINE_BIN, ROOT, engine_env, model_path


def test_test_stories_pass(tmp_path):
    model = model_path()
    assert model.exists(), f"no model for the current data at {model}: run `make train` (make test does)"
    result = subprocess.run([str(ENGINE_BIN / "rasa"), "test", "core", "--stories", "tests/stories", "--model",
                             str(model), "--out", str(tmp_path), "--fail-on-prediction-errors"],
                            cwd=ROOT, env=engine_env(), capture_output=True, text=True, timeout=600)
    failed = (tmp_path / "failed_test_stories.yml")
    assert result.returncode == 0, (failed.read_text() if failed.exists() else result.stderr[-3000:])
    assert "None of the test stories failed" in failed.read_text()
