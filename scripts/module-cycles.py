#!/usr/bin/env python3
"""Finds import cycles between the modules of each crate of the workspace.

For every source file it reads the paths it names (`use crate::…`, `use super::…`, and
`crate::…` paths in code), resolves them to modules, and draws an edge between two
sibling modules when something inside one names something inside the other. A cycle
among siblings (a -> b -> a) means neither can be understood, tested or moved without
the other. Paths reached through a re-export (`use crate::Worker`) count for the module
that re-exports, not the one that defines.

Usage: scripts/module-cycles.py [CRATE_SRC_DIR ...]   (default: every crate's src/)
Exits 1 when a cycle is found, printing each one.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CRATES = ["src", "shared/src", "api/src", "worker/src", "benches/src"]

COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')
USE = re.compile(r"\buse\s+([^;]+);")
PATH = re.compile(r"\b((?:crate|super|self)(?:\s*::\s*[A-Za-z_][A-Za-z0-9_]*)+)")
INLINE_MOD = re.compile(r"\bmod\s+([a-z_][a-z0-9_]*)\s*\{")


def module_of(file: Path, src: Path) -> tuple:
    """The module path of a source file: src/a/b.rs and src/a/b/mod.rs are ("a", "b")."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def expand_use_tree(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"] (aliases and globs dropped)."""
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [re.sub(r"as\w+$", "", tree).rstrip(":*").rstrip(":")]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    items, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(inner[start:i])
            start = i + 1
    items.append(inner[start:])
    paths = []
    for item in filter(None, items):
        if item == "self":
            paths.append(prefix.rstrip(":"))
        else:
            paths.extend(prefix + p for p in expand_use_tree(item))
    return paths


def resolve(path: str, here: tuple) -> tuple:
    """An absolute segment list for a `crate::`/`super::`/`self::` path named in `here`."""
    segments = [s for s in re.split(r"\s*::\s*", path) if s]
    base = list(here)
    if segments[0] == "crate":
        base, segments = [], segments[1:]
    while segments and segments[0] in ("super", "self"):
        if segments.pop(0) == "super" and base:
            base.pop()
    return tuple(base + segments)


def named_paths(text: str, here: tuple) -> set:
    text = STRING.sub('""', COMMENT.sub("", text))
    found = set()
    for tree in USE.findall(text):
        for path in expand_use_tree(tree):
            if re.match(r"(crate|super|self)\b", path):
                found.add(resolve(path, here))
    for path in PATH.findall(text):
        found.add(resolve(path, here))
    return found


def crate_graph(src: Path) -> dict:
    """Edges between sibling modules: {parent: {child: {child, …}}}."""
    files = sorted(src.rglob("*.rs"))
    modules = {module_of(f, src) for f in files}
    for f in files:
        for name in INLINE_MOD.findall(COMMENT.sub("", f.read_text())):
            modules.add(module_of(f, src) + (name,))
    graph = {}
    for f in files:
        here = module_of(f, src)
        for target in named_paths(f.read_text(), here):
            # Keep the module part of the path: the rest names an item.
            while target and target not in modules:
                target = target[:-1]
            common = 0
            while common < min(len(here), len(target)) and here[common] == target[common]:
                common += 1
            if common < len(here) and common < len(target):
                parent = here[:common]
                graph.setdefault(parent, {}).setdefault(here[common], set()).add(target[common])
    return graph


def cycles(edges: dict) -> list:
    """Every strongly connected group of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in edges.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def main(args: list) -> int:
    crates = [Path(a) for a in args] or [ROOT / c for c in DEFAULT_CRATES]
    found = 0
    for src in crates:
        if not src.is_dir():
            continue
        graph = crate_graph(src)
        for parent, edges in sorted(graph.items()):
            for group in cycles(edges):
                found += 1
                where = "::".join(("crate",) + parent)
                links = [f"{a} -> {b}" for a in group for b in sorted(edges.get(a, ())) if b in group]
                print(f"{src.relative_to(ROOT) if src.is_relative_to(ROOT) else src}: "
                      f"cycle in {where}: {', '.join(links)}")
    if found == 0:
        print(f"no module cycles in {len(crates)} crates")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
