"""Killed runs: training resumes from its last checkpoint; records never look complete half-written."""

import os
import re
import signal
import subprocess
import sys
import time

import tensorflow as tf

from csc_pretrain.bert.tokenization import build_vocab
from tests.helpers import tensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _wait_for(predicate, timeout, proc):
  deadline = time.time() + timeout
  while time.time() < deadline:
    if predicate():
      return True
    if proc.poll() is not None:
      return False
    time.sleep(0.05)
  return False


def test_kill_9_during_training_then_the_same_command_resumes(data, tmp_path):
  out = tmp_path / "run"
  command = [sys.executable, "run_pretraining.py", f"--bert_config_file={data / 'bert_config.json'}",
             f"--input_file={data / 'train.tfrecord'}", f"--output_dir={out}", "--do_train",
             "--max_seq_length=32", "--max_predictions_per_seq=5", "--train_batch_size=8",
             "--num_train_steps=60", "--num_warmup_steps=5", "--save_checkpoints_steps=5",
             "--log_every_steps=5", "--noprogress_bar"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)

  def saved_some():
    latest = tf.train.latest_checkpoint(str(out))
    return latest is not None and int(latest.rsplit("-", 1)[1]) >= 10

  try:
    assert _wait_for(saved_some, 300, proc), "training never reached step 10"
    time.sleep(0.3)  # land somewhere inside the next steps, maybe mid-save
    proc.send_signal(signal.SIGKILL)
    proc.wait()
  finally:
    if proc.poll() is None:
      proc.kill()
  killed_at = tf.train.latest_checkpoint(str(out))
  step_at_kill = int(tensors(killed_at)["global_step"])  # the latest checkpoint is whole
  assert 10 <= step_at_kill < 60
  again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
  assert again.returncode == 0, again.stderr[-2000:]
  assert f"at step {step_at_kill}" in again.stderr
  assert int(tensors(tf.train.latest_checkpoint(str(out)))["global_step"]) == 60


def test_kill_9_during_create_tf_record_leaves_no_complete_looking_output(tmp_path):
  sentences = ["我在学校学习今天天气很好医生建议多喝水。", "他们喜欢北京天安门这是第二个文档。"]
  docs = "\n\n".join("\n".join(sentences * 4) for _ in range(4000))
  (tmp_path / "c.txt").write_text(docs + "\n", encoding="utf-8")
  (tmp_path / "vocab.txt").write_text("\n".join(build_vocab(["".join(sentences)])) + "\n",
                                      encoding="utf-8")
  output = tmp_path / "out.tfrecord"
  proc = subprocess.Popen([sys.executable, "create_tf_record.py", f"--input_file={tmp_path / 'c.txt'}",
                           f"--output_file={output}", f"--vocab_file={tmp_path / 'vocab.txt'}",
                           "--dupe_factor=5", "--num_workers=1", "--chunk_documents=50"],
                          cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

  def writing():
    return any(re.match(r"^\.out\.tfrecord\..*\.tmp$", f) and os.path.getsize(tmp_path / f) > 0
               for f in os.listdir(tmp_path))

  try:
    assert _wait_for(writing, 120, proc), "create_tf_record never started writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
  finally:
    if proc.poll() is None:
      proc.kill()
  assert not output.exists()
  assert not os.path.exists(str(output) + ".stats.json")
