"""The layout of docs/architecture.md holds: no import circle between files of soc/, arrows
point down the data flow (cli → stages → detection → stores → the shared core), and soc/
never imports collectors/ (they are found through entry points).

Every import counts, lazy ones inside functions and ``TYPE_CHECKING`` ones too: a circle that
only a late import keeps from failing is still a circle for the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOC = Path(__file__).resolve().parent.parent / "soc"
STAGES = {"cli", "pipeline", "listen", "response", "reports", "web", "demo", "detection",
          "intel", "notify"}
# Each exception is an arrow pointing up, with its reason (docs/architecture.md lists them).
ALLOWED_UP = {
    ("soc.__main__", "cli"),  # `python -m soc` is the CLI
    ("soc.alerts", "detection"),  # AlertSink turns the engine's findings (Hit, CorrelationMatch)
    ("soc.status", "detection"),  # rule health for `soc status`, lazily: None without detection
    ("soc.stores.es.hunt", "detection"),  # Sigma → Lucene with detection's own field pipelines
    ("soc.stores.base", "intel"),  # the indicator record both stores keep (soc.intel.model)
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SOC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SOC.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The soc modules (or packages) ``name`` imports."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {m for m in found if m in known or m.split(".")[0] == "collectors"} - {name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in g.get(v, ()):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (SOC / parts[-1]).is_dir() else "core"


def test_no_import_circle_between_files_of_soc() -> None:
    assert cycles(graph()) == []


def test_cycle_finder_sees_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_arrows_point_down_the_data_flow() -> None:
    up = set()
    for name, deps in graph().items():
        here = layer(name)
        if here not in {"core", "stores"}:
            continue
        for dep in deps:
            there = layer(dep) if dep.startswith("soc.") else ""
            if there in STAGES and (name, there) not in ALLOWED_UP:
                up.add(f"{name} -> {dep}")
    assert sorted(up) == []


def test_soc_never_imports_collectors() -> None:
    assert sorted(f"{n} -> {d}" for n, deps in graph().items() for d in deps
                  if d.split(".")[0] == "collectors") == []


def test_the_allowed_exceptions_are_still_needed() -> None:
    g = graph()
    for name, there in ALLOWED_UP:
        assert any(layer(d) == there for d in g[name] if d.startswith("soc.")), name
