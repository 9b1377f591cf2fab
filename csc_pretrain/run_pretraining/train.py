"""Stage 4, top to bottom: check inputs -> build model -> restore -> train loop -> eval.

The loop replaces TF1's Estimator with plain code: one tf.function step (its
forward/backward part optionally XLA-compiled) that accumulates gradients over
``gradient_accumulation_steps`` micro-batches, all-reduces them across
replicas, clips to global norm 1.0 and applies Google's AdamWeightDecay.
Losses are carried as sums and counts, so one step over k micro-batches on r
replicas computes exactly what one step over the whole batch would.
"""

import contextlib
import dataclasses
import json
import logging
import os
import re
import time
import zlib

import numpy as np
import tensorflow as tf

from csc_pretrain.bert import checkpoint, modeling, tfrecord
from csc_pretrain.io_utils import InputError, atomic_write, check_range, expand_inputs
from csc_pretrain.run_pretraining import data, optimization

SUM = tf.distribute.ReduceOp.SUM
REPLICATED = tf.VariableAggregation.ONLY_FIRST_REPLICA


@dataclasses.dataclass
class RunConfig:
  """Everything a run needs; the CLI fills it from flags and the YAML file."""
  bert_config_file: str
  input_file: str
  output_dir: str
  init_checkpoint: str = None
  init_checkpoint_regex: str = None
  eval_input_file: str = None
  vocab_file: str = None
  do_train: bool = True
  do_eval: bool = False
  max_seq_length: int = None       # None: from the records' stats.json (else 128)
  max_predictions_per_seq: int = None  # None: from the records' stats.json (else 20)
  train_batch_size: int = 32
  eval_batch_size: int = 8
  learning_rate: float = 5e-5
  num_train_steps: int = 100000
  num_warmup_steps: int = 10000
  save_checkpoints_steps: int = 1000
  keep_checkpoint_max: int = 5
  max_eval_steps: int = 100
  eval_every_steps: int = 0        # 0: evaluate at each checkpoint when do_eval
  log_every_steps: int = 100
  use_nsp: bool = True
  gradient_accumulation_steps: int = 1
  mixed_precision: str = "none"    # none | bf16 | fp16
  jit_compile: bool = False
  skip_padding: bool = True        # per-token layers on real tokens only (not under XLA)
  distribution_strategy: str = "auto"  # auto | none | mirrored | multi_worker
  collective_timeout: int = 600    # seconds a multi-worker collective waits (0: forever)
  num_cpu_devices: int = 0         # >1 splits the CPU into logical devices (tests)
  freeze_regex: str = None
  trainable_regex: str = None
  early_stopping_metric: str = None   # e.g. masked_lm_loss
  early_stopping_mode: str = "min"
  early_stopping_patience: int = 0
  early_stopping_min_steps: int = 0
  best_metric: str = "error_position_accuracy"
  best_mode: str = "max"
  seed: int = 12345
  progress_bar: bool = True


# --- devices and strategies -------------------------------------------------------------------

def make_strategy(cfg):
  if cfg.num_cpu_devices > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
      tf.config.set_logical_device_configuration(
          cpu, [tf.config.LogicalDeviceConfiguration()] * cfg.num_cpu_devices)
    except RuntimeError:
      pass  # already set up in this process
  kind = cfg.distribution_strategy
  if kind == "auto":
    kind = "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "none"
  if kind == "none":
    return tf.distribute.get_strategy()
  if kind == "mirrored":
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])
  if kind == "multi_worker":
    _check_tf_config(os.environ.get("TF_CONFIG"))
    # A worker that dies or freezes is noticed by the heartbeats of TF's coordination
    # service (10 s); one that hangs while its heartbeat goes on is not, so every
    # collective also gives up after --collective_timeout seconds.
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=cfg.collective_timeout or None)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
  raise InputError("--distribution_strategy", 0, f"unknown strategy {kind!r}")


def _check_tf_config(text):
  """Refuses a TF_CONFIG that TF would reject with a traceback (or silently ignore)."""
  if not text:
    return  # one worker on its own, like mirrored
  try:
    config = json.loads(text)
  except json.JSONDecodeError as e:
    raise InputError("TF_CONFIG", 0, f"not JSON: {e.msg}") from None
  cluster = config.get("cluster") if isinstance(config, dict) else None
  task = config.get("task") if isinstance(config, dict) else None
  if not isinstance(cluster, dict) or not isinstance(task, dict):
    raise InputError("TF_CONFIG", 0, 'needs {"cluster": {"worker": [host:port, ...]}, '
                     '"task": {"type": "worker", "index": i}}')
  hosts = cluster.get(task.get("type"))
  index = task.get("index")
  if not isinstance(hosts, list) or not isinstance(index, int) or not 0 <= index < len(hosts):
    raise InputError("TF_CONFIG", 0, f"task {task} is not in the cluster {cluster}")


class ClusterError(Exception):
  """Another worker died, hung or disagrees; the CLI prints one line and exits 1."""


def num_workers(strategy):
  resolver = getattr(strategy.extended, "_cluster_resolver", None)
  if resolver is None:
    return 1
  return max(1, sum(len(hosts) for job, hosts in resolver.cluster_spec().as_dict().items()
                    if job in ("chief", "worker")))


@contextlib.contextmanager
def _peers_named_on_failure(cfg, strategy):
  """Turns a collective that failed because of another worker into one ClusterError.

  TF raises Unavailable (a worker died or stopped sending heartbeats), DeadlineExceeded
  (--collective_timeout: a worker hangs) or an aborted collective, with a long
  traceback; the run itself cannot recover (collectives stay aborted), but every
  worker restarted with the same command resumes from the last checkpoint.
  """
  try:
    yield
  except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.InternalError,
          tf.errors.CancelledError, tf.errors.AbortedError) as e:
    if num_workers(strategy) == 1 or isinstance(e, tf.errors.InternalError) and (
        "ollective" not in e.message):
      raise
    logging.debug("collective failure: %s", e.message)
    what = ("workers ran different collectives" if isinstance(e, tf.errors.InternalError)
            else "lost contact with another worker")
    raise ClusterError(f"{what}: {_collective_failure(e)}. Restart every worker with the same "
                       f"command to resume from the last checkpoint in {cfg.output_dir} (a worker "
                       f"that hangs is given up after --collective_timeout={cfg.collective_timeout} "
                       "s)") from None


_TF_NOISE = ("Graph execution error", "Detected at node", "Additional GRPC", ":UNKNOWN",
             "The error could be", "[")


def _collective_failure(error):
  """The line of a failed collective's message that says why, and the worker it names."""
  lines = [l.rstrip() for l in re.sub(r"\{\{[^}]*\}\}", "", error.message).splitlines()
           if l.strip() and not l[0].isspace() and not l.startswith(_TF_NOISE)]
  if not lines:
    return type(error).__name__
  why = lines[0]
  if why.endswith(":") and len(lines) > 1 and lines[1].startswith("/job:"):
    why += " " + lines[1]  # the heartbeat check lists the dead tasks on the next line
  peer = re.search(r"remote target (/job:[\w/:]+)", error.message)
  return f"{why} (from {peer.group(1)})" if peer else why


def _gather_from_workers(strategy, values):
  """``values`` (ints) from every replica of every worker: a [replicas, len(values)] array."""
  @tf.function  # eager collectives work too, but warn of their overhead on every call
  def gather():
    return strategy.gather(strategy.run(lambda: tf.constant([values], tf.int64)), axis=0)
  return gather().numpy()


def _config_fingerprint(cfg):
  settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "progress_bar"}
  return zlib.crc32(json.dumps(settings, sort_keys=True).encode("utf-8"))


def is_chief(strategy):
  resolver = getattr(strategy.extended, "_cluster_resolver", None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                            and "chief" not in resolver.cluster_spec().as_dict())


# --- the model, its optimizer and the step ---------------------------------------------------------

class Trainer:
  """Model, optimizer, global step and the compiled train/eval steps."""

  def __init__(self, bert_config, cfg, strategy):
    self.cfg, self.strategy = cfg, strategy
    self.dtype = {"none": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}[cfg.mixed_precision]
    with strategy.scope(), _replicated_variables():
      self.model = modeling.BertPretrainer(bert_config, seed=cfg.seed)
      self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
      self.trainable = {n: v for n, v in self.model.variables_by_name.items()
                        if _is_trainable(n, cfg)}
      if not self.trainable:
        raise InputError("--freeze_regex", 0, "freezes every variable: nothing to train")
      self.optimizer = optimization.AdamWeightDecay(self.trainable)
      self.loss_scale = tf.Variable(2.0 ** 15, trainable=False, name="loss_scale")
      self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")
    # Packing real tokens makes shapes that vary by batch, which XLA cannot compile.
    self.skip_padding = cfg.skip_padding and not cfg.jit_compile
    self._micro = tf.function(self._micro_batches, jit_compile=cfg.jit_compile)
    self._train_step = tf.function(self._train_replica)
    self._eval_step = tf.function(self._eval_replica)

  def checkpoint_tensors(self):
    """Everything a checkpoint holds, by Google's names."""
    tensors = {n: v.read_value() for n, v in self.model.variables_by_name.items()}
    tensors.update({n: v.read_value() for n, v in self.optimizer.slots.items()})
    tensors["global_step"] = self.global_step.read_value()
    return tensors

  def restorable(self):
    out = dict(self.model.variables_by_name)
    out.update(self.optimizer.slots)
    out["global_step"] = self.global_step
    return out

  def _micro_batches(self, batch, weight_total, example_total):
    """Summed gradients and loss sums over the micro-batches of one step."""
    variables = list(self.trainable.values())
    if batch["input_ids"].shape[0] == 1:  # no accumulation: skip the loop
      return self._one_micro_batch({n: t[0] for n, t in batch.items()}, weight_total,
                                   example_total, variables)
    grads = [tf.zeros_like(v) for v in variables]
    sums = {key: tf.constant(0.0) for key in _SUM_KEYS}
    for i in tf.range(tf.shape(batch["input_ids"])[0]):
      step_grads, s = self._one_micro_batch({n: t[i] for n, t in batch.items()}, weight_total,
                                            example_total, variables)
      grads = [g + d for g, d in zip(grads, step_grads)]
      sums = {key: sums[key] + s[key] for key in _SUM_KEYS}
    return grads, sums

  def _one_micro_batch(self, features, weight_total, example_total, variables):
    with tf.GradientTape() as tape:
      s = modeling.pretraining_losses(self.model, features, training=True, dtype=self.dtype,
                                      use_nsp=self.cfg.use_nsp, skip_padding=self.skip_padding)
      loss = s["mlm_loss_sum"] / (weight_total + 1e-5)
      if self.cfg.use_nsp:
        loss += s["nsp_loss_sum"] / example_total
      if self.cfg.mixed_precision == "fp16":
        loss *= self.loss_scale
    # The position and token-type lookups give IndexedSlices: the update wants dense tensors.
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
    return grads, {key: s[key] for key in _SUM_KEYS}

  def _train_replica(self, batch):
    def step(batch):
      ctx = tf.distribute.get_replica_context()
      weight_total = ctx.all_reduce(SUM, tf.reduce_sum(batch["masked_lm_weights"]))
      example_total = ctx.all_reduce(SUM, tf.cast(tf.size(batch["next_sentence_labels"]), tf.float32))
      grads, sums = self._micro(batch, weight_total, example_total)
      grads = ctx.all_reduce(SUM, grads)
      sums = ctx.all_reduce(SUM, sums)
      lr = optimization.learning_rate(self.global_step, self.cfg.learning_rate,
                                      self.cfg.num_train_steps, self.cfg.num_warmup_steps)
      if self.cfg.mixed_precision == "fp16":
        grads = [g / self.loss_scale for g in grads]
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
        norm, scale = _clip_to_norm(grads, 1.0)
        self._update_loss_scale(finite)
        if finite:  # an fp16 overflow skips the update (and halves the scale)
          self._apply(grads, lr, scale)
      else:
        norm, scale = _clip_to_norm(grads, 1.0)
        self._apply(grads, lr, scale)
      return sums, lr, norm
    per_replica = self.strategy.run(step, args=(batch,))
    sums, lr, norm = self.strategy.experimental_local_results(per_replica)[0]
    return sums, lr, norm

  def _apply(self, grads, lr, grad_scale):
    self.optimizer.apply(zip(grads, self.trainable.values()), lr, grad_scale)
    self.global_step.assign_add(1)

  def _update_loss_scale(self, finite):
    """Dynamic loss scaling: halve on overflow, double after 2000 good steps."""
    if finite:
      self.good_steps.assign_add(1)
      if self.good_steps >= 2000:
        self.loss_scale.assign(self.loss_scale * 2.0)
        self.good_steps.assign(0)
    else:
      self.loss_scale.assign(tf.maximum(self.loss_scale / 2.0, 1.0))
      self.good_steps.assign(0)

  def _eval_replica(self, batch):
    def step(batch):
      ctx = tf.distribute.get_replica_context()
      sums = {key: tf.constant(0.0) for key in _SUM_KEYS}
      for i in tf.range(tf.shape(batch["input_ids"])[0]):
        features = {name: t[i] for name, t in batch.items()}
        s = modeling.pretraining_losses(self.model, features, training=False, dtype=self.dtype,
                                        use_nsp=True, skip_padding=self.skip_padding)
        sums = {key: sums[key] + s[key] for key in _SUM_KEYS}
      return ctx.all_reduce(SUM, sums)
    return self.strategy.experimental_local_results(self.strategy.run(step, args=(batch,)))[0]


_SUM_KEYS = ("mlm_loss_sum", "mlm_weight_sum", "nsp_loss_sum", "examples", "mlm_correct",
             "error_correct", "error_count", "nsp_correct", "nsp_loss_total")


def _clip_to_norm(grads, clip_norm):
  """(global norm, the factor tf.clip_by_global_norm would scale every gradient by).

  The optimizer applies the factor in its own pass over each gradient.
  """
  norm = tf.linalg.global_norm(grads)
  return norm, clip_norm / tf.maximum(norm, clip_norm)


class _replicated_variables:
  """Creates variables that replicas update in step (all gradients are all-reduced
  first, so every replica computes the same update and the first one's is kept)."""

  def __enter__(self):
    self._scope = tf.variable_creator_scope(
        lambda next_creator, **kw: next_creator(**dict(kw, aggregation=REPLICATED)))
    self._scope.__enter__()

  def __exit__(self, *exc):
    return self._scope.__exit__(*exc)


NSP_ONLY = r"^(bert/pooler|cls/seq_relationship)/"


def _is_trainable(name, cfg):
  if not cfg.use_nsp and re.search(NSP_ONLY, name):
    return False  # no gradient without the NSP loss; weight decay alone would shrink them
  if cfg.trainable_regex and not re.search(cfg.trainable_regex, name):
    return False
  return not (cfg.freeze_regex and re.search(cfg.freeze_regex, name))


def metrics_from_sums(sums, use_nsp=True):
  s = {k: float(v) for k, v in sums.items()}
  out = {
      "masked_lm_loss": s["mlm_loss_sum"] / max(s["mlm_weight_sum"], 1e-5),
      "masked_lm_accuracy": s["mlm_correct"] / max(s["mlm_weight_sum"], 1e-5),
      "error_position_accuracy": s["error_correct"] / s["error_count"] if s["error_count"] else 0.0,
      "error_positions": int(s["error_count"]),
      "next_sentence_accuracy": s["nsp_correct"] / max(s["examples"], 1),
      "next_sentence_loss": s["nsp_loss_total"] / max(s["examples"], 1),
  }
  out["loss"] = out["masked_lm_loss"] + (out["next_sentence_loss"] if use_nsp else 0.0)
  return out


# --- the run -------------------------------------------------------------------------------------------

def check_flags(cfg):
  """Refuses out-of-range or contradictory settings before anything is read or built."""
  for flag in ("max_seq_length", "max_predictions_per_seq", "train_batch_size", "eval_batch_size",
               "gradient_accumulation_steps", "num_train_steps", "save_checkpoints_steps",
               "log_every_steps"):
    check_range("--" + flag, getattr(cfg, flag), low=1)
  # Warmup longer than the run is legal, as in Google's code: the rate never peaks.
  for flag in ("num_warmup_steps", "keep_checkpoint_max", "max_eval_steps", "eval_every_steps",
               "early_stopping_patience", "early_stopping_min_steps", "num_cpu_devices",
               "collective_timeout"):
    check_range("--" + flag, getattr(cfg, flag), low=0)
  if None not in (cfg.max_seq_length, cfg.max_predictions_per_seq) and (
      cfg.max_predictions_per_seq > cfg.max_seq_length):
    raise InputError("--max_predictions_per_seq", 0, f"{cfg.max_predictions_per_seq} is more than "
                     f"--max_seq_length {cfg.max_seq_length}")
  # 0 is legal: a run that only evaluates, or tests early stopping, trains nothing on purpose.
  check_range("--learning_rate", cfg.learning_rate, low=0)
  for flag in ("early_stopping_mode", "best_mode"):
    if getattr(cfg, flag) not in ("min", "max"):
      raise InputError("--" + flag, 0, f"must be min or max, got {getattr(cfg, flag)!r}")
  if cfg.mixed_precision not in ("none", "bf16", "fp16"):
    raise InputError("--mixed_precision", 0, "must be none, bf16 or fp16")
  if cfg.distribution_strategy not in ("auto", "none", "mirrored", "multi_worker"):
    raise InputError("--distribution_strategy", 0, "must be auto, none, mirrored or "
                     f"multi_worker, got {cfg.distribution_strategy!r}")
  if cfg.init_checkpoint_regex and not cfg.init_checkpoint:
    raise InputError("--init_checkpoint_regex", 0, "needs --init_checkpoint")
  for flag in ("init_checkpoint_regex", "freeze_regex", "trainable_regex"):
    try:
      re.compile(getattr(cfg, flag) or "")
    except re.error as e:
      raise InputError("--" + flag, 0, f"not a regular expression: {e}") from None


def _check_inputs(cfg, bert_config, train_paths):
  if not (cfg.do_train or cfg.do_eval):
    raise InputError("--do_train", 0, "nothing to do: pass --do_train and/or --do_eval")
  if cfg.max_seq_length > bert_config.max_position_embeddings:
    raise InputError(cfg.bert_config_file, 0, f"max_position_embeddings "
                     f"{bert_config.max_position_embeddings} < --max_seq_length {cfg.max_seq_length}")
  if cfg.vocab_file:
    from csc_pretrain.bert.tokenization import load_vocab
    size = len(load_vocab(cfg.vocab_file))  # missing, empty or duplicate tokens: file:line
    if size != bert_config.vocab_size:
      raise InputError(cfg.vocab_file, 0, f"{size} tokens but vocab_size {bert_config.vocab_size} "
                       f"in {cfg.bert_config_file}")
  eval_paths = expand_inputs(cfg.eval_input_file) if cfg.eval_input_file else train_paths
  for paths in (train_paths, eval_paths):
    # The first records of each file only: a bad one further in is named when it is read.
    for _ in tfrecord.check_records(paths, cfg.max_seq_length, cfg.max_predictions_per_seq,
                                    bert_config.vocab_size, limit=100):
      pass
  return train_paths, eval_paths


def micro_batch_size(cfg, replicas):
  """Examples per replica and accumulation step; the global batch must split evenly."""
  micro = cfg.train_batch_size // (cfg.gradient_accumulation_steps * replicas)
  if micro * cfg.gradient_accumulation_steps * replicas != cfg.train_batch_size:
    raise InputError("--train_batch_size", 0, f"{cfg.train_batch_size} is not divisible by "
                     f"gradient_accumulation_steps x replicas = "
                     f"{cfg.gradient_accumulation_steps} x {replicas}")
  return micro


def run(cfg):
  """Trains and/or evaluates; returns the last eval results (or train summary)."""
  check_flags(cfg)
  # Lengths the flags leave out come from the records' stats.json (Google's without one).
  given = {key: getattr(cfg, key) for key in tfrecord.LENGTH_KEYS}
  paths = expand_inputs(cfg.input_file) if cfg.input_file else []
  cfg = dataclasses.replace(cfg, **tfrecord.resolve_lengths(paths, given))
  bert_config = modeling.BertConfig.from_json_file(cfg.bert_config_file)
  train_paths, eval_paths = _check_inputs(cfg, bert_config, paths)
  if cfg.init_checkpoint:
    checkpoint.read_shapes(checkpoint.resolve(cfg.init_checkpoint))  # unreadable -> error now
  strategy = make_strategy(cfg)
  replicas = strategy.num_replicas_in_sync
  logging.info("%s with %d replicas", type(strategy).__name__, replicas)
  micro = micro_batch_size(cfg, replicas)
  tf.random.set_seed(cfg.seed)
  trainer = Trainer(bert_config, cfg, strategy)
  chief = is_chief(strategy)

  # Resume from our own last checkpoint, else warm-start from --init_checkpoint.
  latest = tf.train.latest_checkpoint(cfg.output_dir)
  if latest:
    checkpoint.restore(latest, trainer.restorable())
    logging.info("resumed from %s at step %d", latest, int(trainer.global_step.numpy()))
  elif cfg.init_checkpoint:
    prefix = checkpoint.resolve(cfg.init_checkpoint)
    loaded = checkpoint.restore(prefix, trainer.model.variables_by_name, cfg.init_checkpoint_regex)
    logging.info("initialised %d variables from %s", len(loaded), prefix)
  if num_workers(strategy) > 1:
    with _peers_named_on_failure(cfg, strategy):
      # Workers that differ would run different steps; fail now, not at a collective.
      found = _gather_from_workers(strategy, [_config_fingerprint(cfg),
                                              int(trainer.global_step.numpy())])
    if len(set(found[:, 0].tolist())) > 1:
      raise ClusterError("workers were started with different flags: run the same command, "
                         "with the same --config, on every worker")
    # Each worker restores on its own: an output_dir that is not one shared path shows here.
    if len(set(found[:, 1].tolist())) > 1:
      raise ClusterError(f"workers start from different steps {sorted(set(found[:, 1].tolist()))}"
                         f": --output_dir {cfg.output_dir} must be one path every worker shares")
  # Only now: a checkpoint that fails to load leaves no empty output directory behind.
  os.makedirs(cfg.output_dir, exist_ok=True)

  spec = tfrecord.feature_spec(cfg.max_seq_length, cfg.max_predictions_per_seq)
  results = {}
  with _peers_named_on_failure(cfg, strategy):
    if cfg.do_train:
      results = _train(cfg, trainer, strategy, spec, train_paths, eval_paths, micro, chief)
    if cfg.do_eval and results.get("global_step") != int(trainer.global_step.numpy()):
      results = evaluate(cfg, trainer, strategy, spec, eval_paths)
      if chief:
        _write_eval_results(cfg.output_dir, results)
    if num_workers(strategy) > 1:
      _check_same_weights(strategy, trainer)
  return results


def weights_fingerprint(tensors):
  """CRC-32 of ``{name: array}`` by sorted name: equal iff the bytes are (all but surely)."""
  crc = 0
  for name in sorted(tensors):
    crc = zlib.crc32(name.encode("utf-8"), crc)
    crc = zlib.crc32(np.ascontiguousarray(tensors[name]).tobytes(), crc)
  return crc


def _check_same_weights(strategy, trainer):
  """Every worker applies the same all-reduced update to its own copy: check they agree."""
  crc = weights_fingerprint({n: t.numpy() for n, t in trainer.checkpoint_tensors().items()})
  crcs = set(_gather_from_workers(strategy, [crc])[:, 0].tolist())
  if len(crcs) > 1:
    raise ClusterError("workers ended with different weights (fingerprints " +
                       ", ".join(f"{c:08x}" for c in sorted(crcs)) + ")")
  logging.info("all %d workers hold the same weights: fingerprint %08x", num_workers(strategy), crc)


def _distributed(strategy, paths, spec, per_replica_batch, accumulation, training, skip):
  def fn(ctx):
    return data.make_dataset(paths, spec, per_replica_batch, accumulation, training,
                             skip_records=skip, input_context=ctx)
  return strategy.distribute_datasets_from_function(fn)


@contextlib.contextmanager
def _records_named_on_data_loss(paths):
  """Names ``file:record`` when tf.data meets a corrupt record past the checked sample.

  tf.data says only "corrupted record at <byte offset>", with a traceback; the
  records are read again with our own reader to find which one it is.
  """
  try:
    yield
  except tf.errors.DataLossError as e:
    from csc_pretrain.bert.tfrecord import numbered_records
    for path in paths:
      for _ in numbered_records(path):
        pass
    message = e.message.split("}}")[-1].strip().splitlines()[0]
    raise InputError(",".join(paths), 0, f"unreadable records: {message}") from None


def evaluate(cfg, trainer, strategy, spec, paths):
  per_replica = max(1, cfg.eval_batch_size // strategy.num_replicas_in_sync)
  ds = _distributed(strategy, paths, spec, per_replica, 1, False, 0)
  totals = {k: 0.0 for k in _SUM_KEYS}
  with _records_named_on_data_loss(paths):
    for n, batch in enumerate(ds):
      if cfg.max_eval_steps and n >= cfg.max_eval_steps:
        break
      sums = trainer._eval_step(batch)
      totals = {k: totals[k] + float(sums[k]) for k in _SUM_KEYS}
  results = metrics_from_sums(totals, cfg.use_nsp)
  results["global_step"] = int(trainer.global_step.numpy())
  return results


def _write_eval_results(output_dir, results):
  """eval_results.txt, ``key = value`` lines as Google's run_pretraining writes them."""
  with atomic_write(os.path.join(output_dir, "eval_results.txt")) as f:
    for key in sorted(results):
      f.write(f"{key} = {results[key]}\n")


def _train(cfg, trainer, strategy, spec, train_paths, eval_paths, micro, chief):
  start = int(trainer.global_step.numpy())
  if start >= cfg.num_train_steps:
    logging.info("already at step %d of %d", start, cfg.num_train_steps)
    return {}
  if start == 0 and chief and not tf.train.latest_checkpoint(cfg.output_dir):
    # Like Estimator, keep the starting point: the "before" of a before/after evaluation.
    checkpoint.save(cfg.output_dir, 0, trainer.checkpoint_tensors(), cfg.keep_checkpoint_max)
  ds = _distributed(strategy, train_paths, spec, micro, cfg.gradient_accumulation_steps, True,
                    start * cfg.train_batch_size)
  writer = tf.summary.create_file_writer(os.path.join(cfg.output_dir, "train")) if chief else None
  eval_writer = tf.summary.create_file_writer(os.path.join(cfg.output_dir, "eval")) if chief else None
  stopper = _EarlyStopping(cfg)
  bar = None
  if cfg.progress_bar:
    from tqdm import tqdm
    bar = tqdm(total=cfg.num_train_steps, initial=start, unit="step", desc="train", mininterval=1.0)
  window = {k: 0.0 for k in _SUM_KEYS}
  t0, examples_seen = time.time(), 0
  eval_every = cfg.eval_every_steps or cfg.save_checkpoints_steps
  results = {}
  iterator = iter(ds)
  step = start
  try:
    while step < cfg.num_train_steps:
      with _records_named_on_data_loss(train_paths):
        batch = next(iterator)
      sums, lr, norm = trainer._train_step(batch)
      step = int(trainer.global_step.numpy())
      window = {k: window[k] + float(sums[k]) for k in _SUM_KEYS}
      examples_seen += cfg.train_batch_size
      if bar:
        bar.update(1)
      if step % cfg.log_every_steps == 0 or step == cfg.num_train_steps:
        metrics = metrics_from_sums(window, cfg.use_nsp)
        speed = examples_seen / max(time.time() - t0, 1e-9)
        logging.info("step %d loss %.4f mlm_acc %.4f error_acc %.4f lr %.3g %.1f examples/s",
                     step, metrics["loss"], metrics["masked_lm_accuracy"],
                     metrics["error_position_accuracy"], float(lr), speed)
        if bar:
          bar.set_postfix(loss=f"{metrics['loss']:.3f}", lr=f"{float(lr):.2g}")
        if writer:
          with writer.as_default(step=step):
            for key in ("loss", "masked_lm_loss", "masked_lm_accuracy", "error_position_accuracy",
                        "next_sentence_loss"):
              tf.summary.scalar(key, metrics[key])
            tf.summary.scalar("learning_rate", lr)
            tf.summary.scalar("gradient_norm", norm)
            tf.summary.scalar("examples_per_second", speed)
        window = {k: 0.0 for k in _SUM_KEYS}
        t0, examples_seen = time.time(), 0
      last = step == cfg.num_train_steps
      if chief and (step % cfg.save_checkpoints_steps == 0 or last):
        prefix = checkpoint.save(cfg.output_dir, step, trainer.checkpoint_tensors(),
                                 cfg.keep_checkpoint_max)
        logging.info("saved %s", prefix)
      if cfg.do_eval and (step % eval_every == 0 or last):
        results = evaluate(cfg, trainer, strategy, spec, eval_paths)
        logging.info("eval at step %d: %s", step, json.dumps(results))
        if chief:
          with eval_writer.as_default(step=step):
            for key, value in results.items():
              tf.summary.scalar(key, value)
          _write_eval_results(cfg.output_dir, results)
          if stopper.best_improved(results):
            checkpoint.save(os.path.join(cfg.output_dir, "best"), step,
                            trainer.checkpoint_tensors(), keep_max=1)
            with atomic_write(os.path.join(cfg.output_dir, "best", "best.json")) as f:
              json.dump({"step": step, cfg.best_metric: results.get(cfg.best_metric)}, f)
        if stopper.should_stop(results, step):
          logging.info("early stopping at step %d: %s did not improve for %d evaluations",
                       step, cfg.early_stopping_metric, cfg.early_stopping_patience)
          if chief and step % cfg.save_checkpoints_steps:
            checkpoint.save(cfg.output_dir, step, trainer.checkpoint_tensors(),
                            cfg.keep_checkpoint_max)
          break
  finally:
    if bar:
      bar.close()
  return results


class _EarlyStopping:
  """Tracks the best-checkpoint metric and the early-stopping metric across evals."""

  def __init__(self, cfg):
    self.cfg = cfg
    self.best = None
    self.stop_best = None
    self.bad_evals = 0

  @staticmethod
  def _better(value, best, mode):
    return best is None or (value < best if mode == "min" else value > best)

  def best_improved(self, results):
    value = results.get(self.cfg.best_metric)
    if value is not None and self._better(value, self.best, self.cfg.best_mode):
      self.best = value
      return True
    return False

  def should_stop(self, results, step):
    metric = self.cfg.early_stopping_metric
    if not metric or not self.cfg.early_stopping_patience:
      return False
    if metric not in results:
      raise InputError("--early_stopping_metric", 0, f"{metric!r} is not an eval metric; one of "
                       f"{sorted(results)}")
    if self._better(results[metric], self.stop_best, self.cfg.early_stopping_mode):
      self.stop_best, self.bad_evals = results[metric], 0
      return False
    self.bad_evals += 1
    return step >= self.cfg.early_stopping_min_steps and self.bad_evals >= self.cfg.early_stopping_patience
