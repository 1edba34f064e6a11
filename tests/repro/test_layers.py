"""The layering contract (issue #13), read from the source with `ast`: no import cycle anywhere in the tree,
tricks/ never imports repro/, repro/spec/ never imports torch, and the repro/ layers only import downwards:

    cli > bench > report > execute > jobs > judge > tasks > spec    (leaves: errors, files, hardware,
                                                                     hardware_class, record)

The judging layer (repro/judge) sits below the runner (jobs, execute: `--until-decided` judges between
its looks) and the report, so neither reaches into the other for a verdict.

Every import counts, also one inside a function. The same contract is in pyproject.toml for import-linter
(`tox -e lint`); this test needs nothing but the standard library.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tricks", "repro")
LAYERS = ("repro.cli", "repro.bench", "repro.report", "repro.execute", "repro.jobs", "repro.judge",
          "repro.tasks", "repro.spec")
LEAVES = ("repro.errors", "repro.files", "repro.hardware", "repro.hardware_class", "repro.record")
NO_TORCH = ("repro.spec",)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))}


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name an import statement in `path` names (absolute; relative ones resolved)."""
    names = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{alias.name}" for alias in node.names)   # a module, or base's attribute
    return names


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the project modules it imports (a name that is a module's attribute maps to the module)."""
    files = source_files(root)
    graph = {}
    for module, path in files.items():
        targets = set()
        for name in imported_names(path, module):
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}   # 1 on the stack, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        stack, path = [(start, iter(sorted(graph[start])))], [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
    return None


def layer_of(module: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            return i
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        for target in targets:
            if module.startswith("tricks") and target.startswith("repro"):
                bad.append(f"{module} -> {target}: tricks/ never imports repro/")
            low, high = layer_of(target), layer_of(module)
            if low is not None and high is not None and low < high:
                bad.append(f"{module} -> {target}: {LAYERS[high]} may not import the layer above it")
            if any(module == leaf for leaf in LEAVES) and target.startswith("repro") and target not in LEAVES:
                bad.append(f"{module} -> {target}: a leaf module imports only leaves")
    return sorted(bad)


def torch_imports(root: Path = ROOT) -> list[str]:
    files = source_files(root)
    return sorted(f"{m} imports {n}" for m, p in files.items() if m.startswith(NO_TORCH)
                  for n in imported_names(p, m) if n == "torch" or n.startswith("torch."))


def test_no_import_cycle_anywhere():
    assert find_cycle(import_graph()) is None


def test_layers_only_import_downwards_and_tricks_never_imports_repro():
    assert layer_violations(import_graph()) == []


def test_spec_layer_imports_no_torch():
    assert torch_imports() == []


def test_no_sys_path_manipulation_in_the_package():
    files = source_files()
    assert [m for m, p in files.items() if "sys.path" in p.read_text()] == []


def test_the_checks_catch_a_planted_cycle_a_tricks_to_repro_import_and_torch_in_spec(tmp_path):
    for pkg in ("tricks", "repro", "repro/spec", "repro/jobs"):
        (tmp_path / pkg).mkdir(parents=True, exist_ok=True)
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "tricks/loop.py").write_text("from repro.jobs import run\n")
    (tmp_path / "repro/jobs/run.py").write_text("import repro.jobs.build\n")
    (tmp_path / "repro/jobs/build.py").write_text("from repro.jobs.run import run_job\n")
    (tmp_path / "repro/spec/schema.py").write_text("import torch.nn\nfrom repro.jobs import build\n")
    graph = import_graph(tmp_path)
    cycle = find_cycle(graph)
    assert cycle is not None and set(cycle) == {"repro.jobs.run", "repro.jobs.build"}
    assert layer_violations(graph) == [
        "repro.spec.schema -> repro.jobs.build: repro.spec may not import the layer above it",
        "tricks.loop -> repro.jobs.run: tricks/ never imports repro/"]
    assert torch_imports(tmp_path) == ["repro.spec.schema imports torch.nn"]
