"""What a person at a terminal sees: no TensorFlow start-up noise, one-line errors."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, **env_overrides):
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env.update(env_overrides)
  return subprocess.run([sys.executable] + args, cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=300)


def test_a_tensorflow_cli_error_is_one_line_without_start_up_noise(tmp_path):
  # strip_adam imports TensorFlow before it finds out the checkpoint is missing.
  missing = str(tmp_path / "model.ckpt-7")
  result = run(["strip_adam.py", missing])
  assert result.returncode == 2
  assert result.stderr.splitlines() == [f"error: {missing}: not a checkpoint: no .index file "
                                        "for this prefix"]


def test_the_user_can_turn_tensorflows_log_back_on(tmp_path):
  result = run(["strip_adam.py", str(tmp_path / "model.ckpt-7")], TF_CPP_MIN_LOG_LEVEL="0")
  assert result.returncode == 2
  assert len(result.stderr.splitlines()) > 1  # TensorFlow's own notices, then our error
  assert result.stderr.splitlines()[-1].startswith("error: ")
