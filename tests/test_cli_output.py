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


def test_config_defaults_agree_with_the_library_defaults():
  # Each CLI fills a config dataclass; the library functions tests and users call
  # directly keep keyword defaults of their own. The two must say the same thing.
  import dataclasses
  import inspect

  from csc_pretrain.char_meta import build as char_meta_build
  from csc_pretrain.create_data import build as create_data_build
  from csc_pretrain.create_tf_record import build as record_build, instances

  def defaults(function):
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}

  def fields(config):
    return {f.name: f.default for f in dataclasses.fields(config)
            if f.default is not dataclasses.MISSING}

  cases = [
      (create_data_build.BuildConfig, defaults(create_data_build.build), {"random_seed": "seed"}),
      (char_meta_build.BuildConfig, defaults(char_meta_build.build), {}),
      (char_meta_build.SourceConfig, defaults(char_meta_build.build), {}),
      (record_build.BuildConfig, defaults(record_build.build), {}),
      (record_build.BuildConfig, fields(instances.MaskingConfig),
       {"do_whole_word_mask": "whole_word_mask"}),
  ]
  checked = 0
  for config, library, renamed in cases:
    for name, value in fields(config).items():
      key = renamed.get(name, name)
      if key in library and not isinstance(value, tuple):
        assert library[key] == value, f"{config.__module__}.{config.__name__}.{name}"
        checked += 1
  assert checked >= 30
