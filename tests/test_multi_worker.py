"""Two run_pretraining processes on 127.0.0.1 as one MultiWorkerMirroredStrategy cluster.

Each test starts real worker processes with TF_CONFIG, as a user on two machines
would, and compares them with one process training on the same global batch.
"""

import glob
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from csc_pretrain.io_utils import InputError
from csc_pretrain.bert import checkpoint
from csc_pretrain.run_pretraining import train
from tests.helpers import ROOT, cfg, tensors

STEPS = 4
# The TF coordination service declares a worker dead after 10 s without a heartbeat;
# the survivor then fails its collective and exits. Documented as "within a minute".
LOST_WORKER_EXIT_SECONDS = 60


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _flags(data, out, **kw):
  """run_pretraining.py flags for what tests.test_run_pretraining.cfg() sets."""
  c = cfg(data, out, **kw)
  names = ("bert_config_file", "input_file", "output_dir", "max_seq_length", "max_predictions_per_seq",
           "train_batch_size", "eval_batch_size", "learning_rate", "num_train_steps",
           "num_warmup_steps", "save_checkpoints_steps", "log_every_steps", "max_eval_steps",
           "eval_every_steps", "collective_timeout")
  flags = [f"--{n}={getattr(c, n)}" for n in names]
  flags += ["--do_train", "--do_eval" if c.do_eval else "--nodo_eval", "--noprogress_bar",
            "--distribution_strategy=multi_worker"]
  return flags


def _start_workers(data, out, logs, n=2, **kw):
  hosts = [f"127.0.0.1:{p}" for p in _free_ports(n)]
  procs = []
  for index in range(n):
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}))
    log = open(f"{logs}.w{index}.log", "w")
    procs.append(subprocess.Popen([sys.executable, "run_pretraining.py"] + _flags(data, out, **kw),
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    log.close()
  return procs


def _wait(procs, logs, timeout=300):
  deadline = time.time() + timeout
  try:
    codes = [p.wait(timeout=max(1, deadline - time.time())) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.wait()
  return codes, [open(f"{logs}.w{i}.log").read() for i in range(len(procs))]


def _fingerprints(log):
  return [line.rsplit(" ", 1)[-1] for line in log.splitlines()
          if "workers hold the same weights: fingerprint" in line]


def _losses(out):
  """{step: loss} from the TensorBoard events of a run's train/ directory."""
  losses = {}
  for path in sorted(glob.glob(os.path.join(out, "train", "events.out.tfevents.*"))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == "loss":
          losses[event.step] = float(tf.make_ndarray(value.tensor))
  return losses


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
  """One process and two workers, the same records, global batch and settings."""
  d = tmp_path_factory.mktemp("multi_worker")
  settings = dict(num_train_steps=STEPS, save_checkpoints_steps=2, log_every_steps=1,
                  do_eval=True, eval_every_steps=2)
  train.run(cfg(data, d / "one", **settings))
  procs = _start_workers(data, d / "two", d / "two", **settings)
  codes, logs = _wait(procs, d / "two")
  assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
  return d, logs


def test_workers_end_with_identical_weights_that_the_checkpoint_holds(runs):
  d, logs = runs
  final = tensors(str(d / "two" / f"model.ckpt-{STEPS}"))
  assert final["global_step"] == STEPS
  expected = f"{train.weights_fingerprint(final):08x}"
  assert _fingerprints(logs[0]) == _fingerprints(logs[1]) == [expected]


def test_only_the_chief_writes_and_the_checkpoint_directory_is_valid(runs):
  d, logs = runs
  assert "saved " in logs[0] and "saved " not in logs[1]
  out = d / "two"
  assert checkpoint.list_checkpoints(str(out)) == ["model.ckpt-0", "model.ckpt-2", "model.ckpt-4"]
  checkpoint.read_shapes(checkpoint.resolve(str(out)))  # index and data files whole
  files = sorted(os.listdir(out))
  assert not [f for f in files if f.startswith(".")], files  # no temporary files left behind
  assert files == sorted(["checkpoint", "eval", "eval_results.txt", "train", "best"] +
                         [f"model.ckpt-{s}.{x}" for s in (0, 2, 4)
                          for x in ("index", "data-00000-of-00001")])


def test_loss_curve_and_weights_equal_one_process_with_the_same_global_batch(runs):
  d, _ = runs
  one, two = _losses(str(d / "one")), _losses(str(d / "two"))
  assert sorted(one) == sorted(two) == list(range(1, STEPS + 1))
  np.testing.assert_allclose([two[s] for s in sorted(two)], [one[s] for s in sorted(one)],
                             rtol=1e-5)
  assert len(set(one.values())) == STEPS  # a curve, not one value repeated
  a, b = tensors(str(d / "one" / f"model.ckpt-{STEPS}")), tensors(str(d / "two" / f"model.ckpt-{STEPS}"))
  for name in a:
    np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-6, err_msg=name)
  evals = [dict(l.split(" = ") for l in (d / run / "eval_results.txt").read_text().splitlines())
           for run in ("one", "two")]
  assert float(evals[0]["masked_lm_loss"]) == pytest.approx(float(evals[1]["masked_lm_loss"]),
                                                            rel=1e-5)


def test_a_killed_worker_stops_the_other_and_a_restart_resumes(runs, data):
  d, _ = runs
  out = d / "killed"
  settings = dict(num_train_steps=100000, save_checkpoints_steps=10, log_every_steps=10)
  procs = _start_workers(data, out, d / "killed", **settings)
  deadline = time.time() + 240
  while not os.path.exists(out / "model.ckpt-20.index"):  # both train: the chief is past step 20
    assert time.time() < deadline and procs[0].poll() is None, "workers did not reach step 20"
    time.sleep(0.2)
  procs[1].kill()
  killed_at = time.time()
  codes, logs = _wait(procs, d / "killed", timeout=LOST_WORKER_EXIT_SECONDS + 30)
  assert time.time() - killed_at < LOST_WORKER_EXIT_SECONDS, logs[0][-2000:]
  assert codes[0] == 1, logs[0][-3000:]
  errors = [l for l in logs[0].splitlines() if l.startswith("error: ")]
  assert len(errors) == 1 and "lost contact with another worker" in errors[0], logs[0][-3000:]
  assert "Restart every worker with the same command" in errors[0]
  assert "Traceback" not in logs[0]

  latest = tf.train.latest_checkpoint(str(out))
  step = int(tensors(latest)["global_step"])
  assert step >= 20
  procs = _start_workers(data, out, d / "restarted", **dict(settings, num_train_steps=step + 2))
  codes, logs = _wait(procs, d / "restarted")
  assert codes == [0, 0], logs[0][-3000:] + logs[1][-3000:]
  for log in logs:
    assert f"resumed from {latest} at step {step}" in log
  final = tensors(str(out / f"model.ckpt-{step + 2}"))
  assert final["global_step"] == step + 2
  assert _fingerprints(logs[0]) == _fingerprints(logs[1]) == [f"{train.weights_fingerprint(final):08x}"]


def test_bad_tf_config_and_collective_timeout_are_refused(data, tmp_path):
  with pytest.raises(InputError, match=r"--collective_timeout: must be >= 0, got -1"):
    train.check_flags(cfg(data, tmp_path, collective_timeout=-1))
  for text, message in (("{oops", r"TF_CONFIG: not JSON"),
                        ("[1]", r"TF_CONFIG: needs \{\"cluster\""),
                        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}',
                         r"TF_CONFIG: task .* is not in the cluster")):
    with pytest.raises(InputError, match=message):
      train._check_tf_config(text)
