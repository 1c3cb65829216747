"""Write ``_sync_verbs.py``: one blocking method per public verb of :class:`Client`.

Run ``python -m pachstream.client._gen_sync`` after adding or changing a verb of the async
client; ``tests/unit/test_sync_client.py`` fails until the two agree. Generating the methods
(rather than a ``__getattr__`` proxy) gives IDEs and mypy the real signatures, types and
docstrings.

Annotations are copied as written (the modules use ``from __future__ import annotations``);
each name they use is imported, under ``TYPE_CHECKING``, from where the verb's own module
imports it, found by reading that module's source.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

TARGET = Path(__file__).with_name("_sync_verbs.py")
"""The generated module."""
SKIP = frozenset({"connect", "close", "commit"})
"""Verbs SyncClient writes by hand (its own connection, and a context manager)."""


def verbs(cls: type) -> list[tuple[str, Any]]:
    """The public coroutine and async-generator methods of ``cls``, by name."""
    out = []
    for name in sorted(dir(cls)):
        if name.startswith("_") or name in SKIP:
            continue
        fn = inspect.getattr_static(cls, name)
        if isinstance(fn, staticmethod | classmethod):
            continue
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            out.append((name, fn))
    return out


def _imports_of(module: Any) -> dict[str, tuple[str, str]]:
    """Name → (module, original name) for every name a module imports or defines at top level.

    ``if TYPE_CHECKING:`` blocks included.
    """
    tree = ast.parse(inspect.getsource(module))
    found: dict[str, tuple[str, str]] = {}

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = module.__name__.split(".")[: -node.level]
                    base = ".".join(parts + ([base] if base else []))
                for alias in node.names:
                    found[alias.asname or alias.name] = (base, alias.name)
            elif isinstance(node, ast.If):
                visit(node.body)
            elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                found.setdefault(node.name, (module.__name__, node.name))
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name):
                        found.setdefault(t.id, (module.__name__, t.id))

    visit(tree.body)
    return found


def _names(annotation: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(annotation, mode="eval")) if isinstance(n, ast.Name)}


BUILTINS = frozenset(dir(__builtins__) if isinstance(__builtins__, dict) else dir(__builtins__))


def _method(name: str, fn: Any, needed: dict[str, tuple[str, str]]) -> str:
    sig = inspect.signature(fn)
    module = sys.modules[fn.__module__]
    known = _imports_of(module)
    params, call = [], []
    star = False
    for p in list(sig.parameters.values())[1:]:
        text = p.name
        if p.annotation is not inspect.Parameter.empty:
            text += f": {p.annotation}"
            for n in _names(p.annotation):
                _need(n, known, needed, name)
        if p.default is not inspect.Parameter.empty:
            equals = " = " if p.annotation is not inspect.Parameter.empty else "="
            text += equals + repr(p.default)
        if p.kind is p.VAR_POSITIONAL:
            params.append("*" + text)
            call.append("*" + p.name)
            star = True
            continue
        if p.kind is p.VAR_KEYWORD:
            params.append("**" + text)
            call.append("**" + p.name)
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            params.append("*")
            star = True
        params.append(text)
        call.append(f"{p.name}={p.name}" if p.kind is p.KEYWORD_ONLY else p.name)
    returns = sig.return_annotation
    generator = inspect.isasyncgenfunction(fn)
    if returns is inspect.Signature.empty:
        returns = "Iterator[Any]" if generator else "Any"
    elif generator:
        returns = returns.replace("AsyncIterator[", "Iterator[", 1).replace(
            "AsyncGenerator[", "Iterator[", 1
        )
    for n in _names(returns):
        _need(n, known, needed, name)
    doc = inspect.getdoc(fn) or f"Blocking :meth:`Client.{name}`."
    doc = doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if "\n" in doc:
        doc += "\n"  # closing quotes on their own line (D209)
    body = f"self._client.{name}({', '.join(call)})"
    run = "self._iterate" if generator else "self._run"
    return (
        f"    def {name}(self, {', '.join(['self', *params][1:])}) -> {returns}:\n"
        f"{textwrap.indent(chr(34) * 3 + doc + chr(34) * 3, ' ' * 8)}\n"
        f"        return {run}({body})\n"
    ).replace("(self, )", "(self)")


def _need(
    name: str, known: dict[str, tuple[str, str]], needed: dict[str, tuple[str, str]], verb: str
) -> None:
    if name in BUILTINS or name in needed:
        return
    if name not in known:
        raise SystemExit(f"{verb}: cannot tell where the annotation name {name!r} comes from")
    module = known[name][0]
    if _private_elsewhere(module):
        raise SystemExit(
            f"{verb}: the annotation name {name!r} is imported from {module}, a private module "
            "of another package; import it from that package's public module instead"
        )
    needed[name] = known[name]


def _private_elsewhere(module: str) -> bool:
    """Whether ``module`` is a private module of a pachstream package other than the client
    (``pachstream.lineage._graph``): the generated code must not import such a module.
    """
    parts = module.split(".")
    return (
        parts[0] == "pachstream"
        and parts[:2] != ["pachstream", "client"]
        and any(p.startswith("_") for p in parts[1:])
    )


def render(client: type) -> str:
    """The text of ``_sync_verbs.py`` for ``client``'s verbs."""
    needed: dict[str, tuple[str, str]] = {"Iterator": ("collections.abc", "Iterator")}
    methods = [_method(name, fn, needed) for name, fn in verbs(client)]
    runtime = {"Iterator", "Any", "TYPE_CHECKING", "TypeVar"}
    lines = []
    for local, (mod, orig) in sorted(needed.items(), key=lambda kv: (kv[1][0], kv[0])):
        if local in runtime:
            continue
        alias = f" as {local}" if local != orig else ""
        lines.append(f"    from {mod} import {orig}{alias}")
    header = '''"""The blocking verbs of :class:`~pachstream.client.SyncClient`.

Generated by ``python -m pachstream.client._gen_sync`` from Client's signatures; do not edit.
Run it again after adding or changing a verb (``tests/unit/test_sync_client.py`` checks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pachstream.client._client import Client
{imports}

T = TypeVar("T")


class SyncVerbs:
    """Each method runs the async client's verb of the same name on SyncClient's loop."""

    _client: Client

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        raise NotImplementedError

    def _iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        raise NotImplementedError

'''
    return header.format(imports="\n".join(lines)) + "\n".join(methods)


def main() -> None:
    """Write the module and format it with ruff when ruff is at hand."""
    from pachstream.client._client import Client

    TARGET.write_text(render(Client), encoding="utf-8")
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():
        subprocess.run([str(ruff), "format", "--quiet", str(TARGET)], check=False)
        subprocess.run(
            [str(ruff), "check", "--quiet", "--fix", "--select", "I,F401", str(TARGET)],
            check=False,
        )
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
