"""Every third-party module the package imports is a declared dependency.

A missing one stays invisible wherever the test requirements happen to bring
it (safetensors came with transformers), and breaks a user's first run. So:
each import under csc_pretrain/ (and the root scripts) must be the standard
library, the package itself, or a distribution in pyproject's dependencies; a
distribution of an optional extra may only be imported inside a function (lazily),
so that the package imports without it. requirements.txt and
requirements-test.txt must say what pyproject says.
"""

import ast
import importlib.metadata
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_PARTY = {"csc_pretrain"}
# Import names of optional extras that need not be installed where the tests run.
OPTIONAL_IMPORT_NAMES = {"torch": "torch", "transformers": "transformers"}


def normalize(name):
  """PEP 503 names: PyYAML == pyyaml, absl_py == absl-py."""
  return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line):
  return normalize(re.split(r"[<>=!~\[;\s]", line.strip(), maxsplit=1)[0])


def imports_of(path):
  """``(top-level module, line, lazy)`` for each absolute import in a file; lazy
  means inside a function, where it runs only when called."""
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), path)
  found = []

  def visit(node, lazy):
    for child in ast.iter_child_nodes(node):
      inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
      if isinstance(child, ast.Import):
        found.extend((alias.name.split(".")[0], child.lineno, lazy) for alias in child.names)
      elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
        found.append((child.module.split(".")[0], child.lineno, lazy))
      visit(child, inner)

  visit(tree, False)
  return found


def python_files():
  for directory, _, files in os.walk(os.path.join(ROOT, "csc_pretrain")):
    for name in sorted(files):
      if name.endswith(".py"):
        yield os.path.join(directory, name)
  for name in ("create_tf_record.py", "run_pretraining.py", "strip_adam.py"):
    yield os.path.join(ROOT, name)


def undeclared_imports(paths, distributions_of, required, optional):
  """Problems as ``path:line: message`` strings.

  ``distributions_of`` maps an import name to its distribution names;
  ``required``/``optional`` are sets of normalized distribution names.
  """
  problems = []
  for path in paths:
    for module, line, lazy in imports_of(path):
      if module in sys.stdlib_module_names or module in FIRST_PARTY:
        continue
      dists = {normalize(d) for d in distributions_of.get(module, [])}
      where = f"{os.path.relpath(path, ROOT)}:{line}"
      if dists & required:
        continue
      if dists & optional:
        if not lazy:
          problems.append(f"{where}: optional {module!r} imported at module level "
                          "(import it inside the function that needs it)")
        continue
      problems.append(f"{where}: {module!r} ({', '.join(sorted(dists)) or 'unknown distribution'})"
                      " is not a declared dependency")
  return problems


def pyproject():
  tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
  with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    return tomllib.load(f)["project"]


def requirement_lines(name):
  with open(os.path.join(ROOT, name), encoding="utf-8") as f:
    return [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]


def test_every_import_is_declared():
  project = pyproject()
  required = {requirement_name(r) for r in project["dependencies"]}
  optional = {requirement_name(r) for extra in project["optional-dependencies"].values()
              for r in extra}
  distributions_of = dict(importlib.metadata.packages_distributions())
  for module, dist in OPTIONAL_IMPORT_NAMES.items():
    distributions_of.setdefault(module, [dist])
  problems = undeclared_imports(python_files(), distributions_of, required, optional)
  assert not problems, "\n".join(problems)


def test_the_check_catches_an_undeclared_and_an_eager_optional_import(tmp_path):
  module = tmp_path / "mod.py"
  module.write_text("import os\nimport numpy\nfrom safetensors.numpy import save_file\n"
                    "import torch\n\ndef lazy():\n  import torch\n", encoding="utf-8")
  distributions_of = {"numpy": ["numpy"], "safetensors": ["safetensors"], "torch": ["torch"]}
  problems = undeclared_imports([str(module)], distributions_of, {"numpy"}, {"torch"})
  assert len(problems) == 2
  assert ":3: 'safetensors'" in problems[0] and "not a declared dependency" in problems[0]
  assert ":4: optional 'torch' imported at module level" in problems[1]


def test_requirement_files_say_what_pyproject_says():
  project = pyproject()
  assert sorted(requirement_lines("requirements.txt")) == sorted(project["dependencies"])
  assert sorted(requirement_lines("requirements-test.txt")) == sorted(
      project["optional-dependencies"]["test"])


def test_console_entry_points_name_real_commands():
  import importlib
  scripts = pyproject()["scripts"]
  assert {"csc-create-tf-record", "csc-run-pretraining", "csc-strip-adam"} <= set(scripts)
  for name, target in scripts.items():
    module, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module), function, None)), (name, target)
