#!/usr/bin/env python3
"""Fail when a module imports one at its own layer or above.

Usage: scripts/layers.py DOC          (docs/architecture.md)
       scripts/layers.py --self-test  (it fails on a planted back-import)

DOC states each crate's layers in a table between `<!-- layers -->` and
`<!-- /layers -->`: rows `| crate dir | layer | modules |`, layer 0 at the
bottom. A module may import only modules of lower layers, so no two import
each other; a module the table does not place fails too, so a new one gets
a place. A module's imports are every `crate::name` path in its files
outside comments and `#[cfg(test)] mod tests`, including the names of a
grouped `use crate::{a, b::c}`; the crate root (lib.rs) is the module
`(crate root)`. Each violation is printed with the file and line of the
import, and any circle with one import per edge.
"""

import os
import re
import sys
import tempfile
from collections import defaultdict

IDENT = r"[a-z_][a-z0-9_]*"


LITERAL_OR_COMMENT = re.compile(
    r'r(#*)"(?:.|\n)*?"\1'  # a raw string
    r'|b?"(?:\\.|[^"\\])*"'  # a string
    r"|b?'(?:\\.|[^'\\])'"  # a char (a lifetime has no closing quote)
    r"|//[^\n]*"  # a line comment
    r"|/\*(?:.|\n)*?\*/",  # a block comment
)


def code_of(text):
    """The code of a file: string and char literals and comments blanked
    (their newlines kept, so line numbers hold), the unit-test module
    (`#[cfg(test)] mod tests { ... }`) left out."""
    code = LITERAL_OR_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for m in reversed(list(re.finditer(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{", code))):
        body = group_after(code, m.end() - 1)
        end = m.end() + len(body) + 1
        code = code[: m.start()] + "\n" * code.count("\n", m.start(), end) + code[end:]
    return code


def grouped_names(group):
    """Top-level names of a `{a, b::c, d::{e, f}}` group."""
    names, depth, current = [], 0, ""
    for ch in group:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            names.append(current)
            current = ""
            continue
        if depth == 0:
            current += ch
    names.append(current)
    return [m.group(0) for n in names if (m := re.match(IDENT, n.strip()))]


def group_after(text, at):
    """The balanced `{...}` starting at `at`, without its braces."""
    depth = 0
    for i in range(at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[at + 1 : i]
    return ""


ROOT = "(crate root)"


def module_path(src, path):
    """The module path of a file (`a/b.rs` and `a/b/mod.rs`: [a, b])."""
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def module_of(src, path):
    """The top-level module a file belongs to; the crate root for lib.rs."""
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    if parts == ["lib"]:
        return ROOT
    if parts[-1] in ("mod", "main"):
        parts = parts[:-1]
    return parts[0] if parts and parts[0] != "bin" else None


def sources(src):
    for folder, _, files in os.walk(src):
        for name in sorted(files):
            if name.endswith(".rs"):
                yield os.path.join(folder, name)


def imports(src):
    """module -> {imported module: (file, line)}. An item of the crate root
    (lib.rs) counts as an import of the root, and the root's own paths
    (`faults::replay`) as its imports of those modules."""
    modules = {module_of(src, p) for p in sources(src)} - {None, ROOT}
    graph = defaultdict(dict)
    for path in sources(src):
        module = module_of(src, path)
        if module is None:
            continue
        code = code_of(open(path, encoding="utf-8").read())
        graph[module]
        # `super::…` leaves the file's module: resolved against its path.
        here = module_path(src, path)
        for m in re.finditer(r"\b((?:super::)+)(" + IDENT + ")", code):
            up = m.group(1).count("super::")
            target_path = here[: max(len(here) - up, 0)] + [m.group(2)]
            target = target_path[0] if target_path[0] in modules else ROOT
            if target != module:
                line = code.count("\n", 0, m.start()) + 1
                graph[module].setdefault(target, (path, line))
        prefix = r"\b(?:crate::)?" if module == ROOT else r"\bcrate::"
        for m in re.finditer(prefix + r"(\{|" + IDENT + ")", code):
            if module == ROOT and not code.startswith("::", m.end()) and m.group(1) != "{":
                continue
            line = code.count("\n", 0, m.start()) + 1
            names = (
                grouped_names(group_after(code, m.start(1)))
                if m.group(1) == "{"
                else [m.group(1)]
            )
            for name in names:
                target = name if name in modules else ROOT
                if target != module:
                    graph[module].setdefault(target, (path, line))
    return graph


def circles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def stated_layers(doc):
    """crate dir -> {module: layer}, from the table in `doc`."""
    text = open(doc, encoding="utf-8").read()
    start, end = text.find("<!-- layers -->"), text.find("<!-- /layers -->")
    if start < 0 or end < start:
        sys.exit(f"{doc}: no <!-- layers --> table")
    layers = defaultdict(dict)
    for row in text[start:end].splitlines():
        cells = [c.strip().strip("`") for c in row.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].isdigit():
            continue
        for module in re.split(r"[,\s]+", cells[2].replace("`", "")):
            if module:
                layers[cells[0]][module.replace("crate-root", ROOT)] = int(cells[1])
    return layers


def check(src, layers):
    if not any(sources(src)):
        print(f"{src}: no Rust sources (a crate the layers table names must exist)")
        return False
    graph = imports(src)
    ok = True
    for module in sorted(set(graph) - set(layers)):
        print(f"{src}: module {module} has no layer in the architecture doc's table")
        ok = False
    for a in sorted(graph):
        for b, (path, line) in sorted(graph[a].items()):
            if a in layers and b in layers and layers[b] >= layers[a]:
                print(
                    f"{path}:{line}: {a} (layer {layers[a]}) imports {b} (layer {layers[b]}):"
                    " a module imports only lower layers"
                )
                ok = False
    for component in circles(graph):
        print(f"{src}: modules import each other in a circle: {', '.join(component)}")
    return ok


def self_test():
    import contextlib
    import io

    with tempfile.TemporaryDirectory() as root, contextlib.redirect_stdout(io.StringIO()):
        src = os.path.join(root, "src")
        os.mkdir(src)
        files = {
            "lib.rs": "pub mod leaf;\npub mod top;\n",
            "leaf.rs": "// crate::top in a comment is no import\npub fn f() {}\n",
            "top.rs": "use crate::{leaf::{self, f}, };\n",
        }
        for name, text in files.items():
            open(os.path.join(src, name), "w").write(text)
        layers = {"leaf": 0, "top": 1, ROOT: 2}
        assert check(src, layers), "a clean layering was reported broken"
        # Planted: the leaf imports the module above it, each way a path
        # can: after a string holding `//`, through `super::`, and after
        # the unit tests.
        for planted in [
            'const U: &str = "s3://x"; use crate::top::g;\n',
            "use super::top;\n",
            "#[cfg(test)]\nmod tests {\n}\nuse crate::top;\n",
        ]:
            with open(os.path.join(src, "leaf.rs"), "w") as leaf:
                leaf.write(files["leaf.rs"] + planted)
            assert not check(src, layers), f"a planted back-import was not caught: {planted!r}"
    print("layers: self-test passed (a planted back-import is caught)")
    return True


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(0 if self_test() else 1)
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    stated = stated_layers(sys.argv[1])
    results = [check(os.path.join(crate, "src"), stated[crate]) for crate in sorted(stated)]
    sys.exit(0 if results and all(results) else 1)
