r"""A small HTTP service around the corrector (standard library only).

  python -m csc_pretrain.correct serve --checkpoint out/pretrain_tiny/stripped \
      --confusion_dir char_meta [--port 5000] [--thresholds thresholds.json --decoder fitted \
      --protect FILE --lexicon FILE --second_pass]

  GET  /correct?q=患者需要定其复查        -> {"text", "corrected", "edits": [{"pos", "from", "to", "prob"}]}
  POST /correct  ["句子一", "句子二"]      -> [{...}, {...}]   (one batched model call)
  GET  /health                           -> {"status": "ok", "checkpoint": ...}

Texts of any length up to --max_chars are corrected the way ``correct`` and
``evaluate`` do it (Corrector.correct, with the same --thresholds, --decoder,
--protect, --lexicon and --second_pass): longer than the model's
--max_seq_length, they are cut at sentence ends (sliding windows inside an
overlong sentence) and stitched back. ``corrected`` always has the length of
``text``, and ``pos`` is the index of the character in ``text`` counted in
Unicode code points (Python ``str`` indices; a JavaScript client must convert
for characters outside the BMP, such as emoji, which take two UTF-16 units).

Bad requests get a 4xx status and {"error": "..."}: empty text, text longer
than --max_chars, a batch larger than --max_batch, bytes that are not UTF-8,
text that is not valid Unicode (a lone surrogate such as "\ud800" in the
JSON), a body that is not a JSON list of strings. An unexpected failure gets
500 and {"error": "..."} instead of a dropped connection.
"""

import dataclasses
import json
import re
import threading
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from csc_pretrain.correct.config import CorrectorConfig, make_corrector
from csc_pretrain.io_utils import check_range

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BadRequest(Exception):
  def __init__(self, status, message):
    super().__init__(message)
    self.status = status


def check_texts(texts, max_chars, max_batch):
  if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
    raise BadRequest(400, "expected a JSON list of strings")
  if not texts:
    raise BadRequest(400, "empty list")
  if len(texts) > max_batch:
    raise BadRequest(413, f"{len(texts)} texts; at most {max_batch} per request")
  for i, t in enumerate(texts):
    if not t.strip():
      raise BadRequest(400, f"text {i} is empty")
    if len(t) > max_chars:
      raise BadRequest(413, f"text {i} has {len(t)} characters; at most {max_chars}")
    bad = LONE_SURROGATE.search(t)
    if bad:  # JSON can escape one, but no UTF-8 reply could carry it back
      raise BadRequest(400, f"text {i} is not valid Unicode: lone surrogate "
                       f"U+{ord(bad.group()):04X} at {bad.start()}")
  return texts


@dataclasses.dataclass(frozen=True)
class ServeConfig:
  """What ``python -m csc_pretrain.correct serve`` was asked (its flags, same names)."""
  corrector: CorrectorConfig
  host: str = "127.0.0.1"
  port: int = 5000       # 0: any free port
  max_chars: int = 512   # longest text accepted
  max_batch: int = 64    # most texts per POST
  quiet: bool = False    # no access log


def make_handler(corrector, max_chars=512, max_batch=64, quiet=False):
  lock = threading.Lock()  # one model call at a time; requests queue here

  class Handler(BaseHTTPRequestHandler):
    server_version = "csc_pretrain"

    def _send(self, status, payload):
      body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
      self.send_response(status)
      self.send_header("Content-Type", "application/json; charset=utf-8")
      self.send_header("Content-Length", str(len(body)))
      self.end_headers()
      self.wfile.write(body)

    def _correct(self, texts):
      with lock:
        return corrector.correct(texts)

    def do_GET(self):
      url = urllib.parse.urlsplit(self.path)
      try:
        if url.path == "/health":
          return self._send(200, {"status": "ok", "checkpoint": corrector.prefix})
        if url.path != "/correct":
          raise BadRequest(404, f"no such path {url.path}; try /correct?q=...")
        try:
          query = urllib.parse.parse_qs(url.query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
          raise BadRequest(400, "q is not UTF-8") from None
        if "q" not in query:
          raise BadRequest(400, "missing q parameter")
        self._send(200, self._correct(check_texts(query["q"][:1], max_chars, max_batch))[0])
      except BadRequest as e:
        self._send(e.status, {"error": str(e)})
      except Exception as e:  # the client still gets JSON; the log gets the traceback
        self._fail(e)

    def _fail(self, error):
      self.log_error("%s", traceback.format_exc())
      self._send(500, {"error": f"internal error: {type(error).__name__}: {error}"})

    def do_POST(self):
      try:
        if urllib.parse.urlsplit(self.path).path != "/correct":
          raise BadRequest(404, "no such path; POST a JSON list to /correct")
        length = int(self.headers.get("Content-Length") or 0)
        if length > max_chars * max_batch * 4 + 1024:
          raise BadRequest(413, "request body too large")
        raw = self.rfile.read(length)
        try:
          texts = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
          raise BadRequest(400, "body is not UTF-8") from None
        except json.JSONDecodeError as e:
          raise BadRequest(400, f"body is not JSON: {e.msg}") from None
        self._send(200, self._correct(check_texts(texts, max_chars, max_batch)))
      except BadRequest as e:
        self._send(e.status, {"error": str(e)})
      except Exception as e:  # as in do_GET
        self._fail(e)

    def log_message(self, fmt, *args):  # quieter than the default: one line per request
      if quiet:
        return
      super().log_message(fmt, *args)

  return Handler


def make_server(corrector, host="127.0.0.1", port=5000, max_chars=512, max_batch=64,
                quiet=False):
  return ThreadingHTTPServer((host, port), make_handler(corrector, max_chars, max_batch, quiet))


def run(cfg):
  """Serves until interrupted, as ``cfg`` says."""
  check_range("--port", cfg.port, 0, 65535)  # 0: any free port
  check_range("--max_chars", cfg.max_chars, 1)
  check_range("--max_batch", cfg.max_batch, 1)
  corrector = make_corrector(cfg.corrector)
  corrector.correct(["预热"])  # trace the model before the first request
  server = make_server(corrector, cfg.host, cfg.port, cfg.max_chars, cfg.max_batch, cfg.quiet)
  print(f"serving {corrector.prefix} on http://{cfg.host}:{server.server_port}/correct?q=...",
        flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
