"""The package's import graph: data flows downward, so no module imports one that (directly
or through others) imports it back, and the package's own modules are imported at module top.
Function-level imports are for the optional heavy dependencies only (caffe_lrn.optional)."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).parent.parent
PACKAGE = ROOT / "caffe_lrn"


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _absolute(name, node):
    """The absolute module a ``from`` statement names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = name.split(".")
    if MODULES[name].name != "__init__.py":
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _owner(dotted):
    """The package module that defines ``dotted`` (its longest known prefix), or None."""
    parts = dotted.split(".")
    while parts:
        if ".".join(parts) in MODULES:
            return ".".join(parts)
        parts.pop()
    return None


def imports(name):
    """[(module, line, in a function?)] for each of the package's own modules ``name`` imports.

    ``from caffe_lrn.x import y`` imports module ``caffe_lrn.x.y`` when there is one, else
    ``caffe_lrn.x`` (a package's ``__init__`` when x is a package).
    """
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                source = _absolute(name, child)
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES
                           else source for alias in child.names]
            else:
                visit(child, in_function or isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))
                continue
            for target in targets:
                owner = _owner(target)
                if owner is not None and owner != name:
                    found.append((owner, child.lineno, in_function))

    visit(tree, False)
    return found


def import_graph():
    return {name: sorted({target for target, _, _ in imports(name)}) for name in MODULES}


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state = {}  # name -> "open" while on the path, "done" after
    path = []

    def walk(name):
        state[name] = "open"
        path.append(name)
        for target in graph.get(name, ()):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = walk(target)
                if cycle:
                    return cycle
        path.pop()
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = walk(name)
            if cycle:
                return cycle
    return None


def test_the_walker_sees_the_package():
    graph = import_graph()
    assert len(graph) >= 60
    # (The package's __init__ loads its public names on first use, through importlib.)
    assert "caffe_lrn.errors" in graph["caffe_lrn"]
    assert "caffe_lrn.cli" in graph["caffe_lrn.__main__"]
    assert "caffe_lrn.cli.verify_cmd" in graph["caffe_lrn.cli"]


def test_find_cycle_names_the_cycle():
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": [], "c": ["a", "b"]}) is None


def test_no_import_cycle_among_the_package_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_own_modules_are_imported_at_module_top():
    late = sorted({f"{MODULES[name].relative_to(ROOT)}:{line}: imports {target}"
                   for name in MODULES for target, line, in_function in imports(name)
                   if in_function})
    assert not late, ("function-level imports of the package's own modules (move them to the "
                      "top; optional dependencies go through caffe_lrn.optional):\n"
                      + "\n".join(late))
