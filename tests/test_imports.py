"""The layers of `lib` (read from the source with `ast`, nothing imported): the pages build on the
library, never the other way round, and no module reaches into another's private names."""
import ast

from conftest import ROOT

LIB = ROOT / "lib"

# Modules outside lib/pages/ that may import lib.pages, and why. Nothing else may: the library
# below the pages knows no page.
MAY_IMPORT_PAGES = {
    "lib": "the package root re-exports its subpackages, pages among them",
    "lib.sweep": "the sweep command line: it dispatches a page's jobs to the page (lib.pages.SWEEPS)",
    "lib.campaign": "the campaign command line: it runs pages' sweeps over a campaign's settings",
}
# lib/__main__.py, the command line's entry, imports only these commands' modules.


def _modules() -> dict:
    """{dotted module name: (path, syntax tree)} of every module under lib/."""
    out = {}
    for path in sorted(LIB.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = (path, ast.parse(path.read_text(), str(path)))
    return out


def _is_package(path) -> bool:
    return path.name == "__init__.py"


def _resolve(module: str, path, level: int, name: str | None) -> str:
    """The absolute name of ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not _is_package(path):
        base = base[:-1]  # a module's package
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _type_checking_only(tree) -> set:
    """The import nodes under ``if TYPE_CHECKING:``: annotations only, never run."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (getattr(node.test, "id", None) == "TYPE_CHECKING"
                                         or getattr(node.test, "attr", None) == "TYPE_CHECKING"):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def _imports(module: str, path, tree) -> list[tuple[str, str | None, str | None, int]]:
    """Every import the module runs, at module level or inside a function, and every
    ``import_module``/``__import__`` of a literal name: (imported module, imported name or None, the
    local name it is bound to or None, line)."""
    skip, out = _type_checking_only(tree), []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append((a.name, None, a.asname or a.name.split(".")[0], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            src = _resolve(module, path, node.level, node.module)
            for a in node.names:
                out.append((src, a.name, a.asname or a.name, node.lineno))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):  # importlib.import_module("lib.x"): a name known here
            out.append((node.args[0].value, None, None, node.lineno))
    return out


def _imports_pages(src: str, name: str | None) -> bool:
    return src == "lib.pages" or src.startswith("lib.pages.") or (src == "lib" and name == "pages")


def test_resolving_relative_imports():
    assert _resolve("lib.summary", LIB / "summary.py", 1, "pages.chaos") == "lib.pages.chaos"
    assert _resolve("lib.pages.paper", LIB / "pages" / "paper.py", 2, None) == "lib"
    assert _resolve("lib.pages", LIB / "pages" / "__init__.py", 1, "chaos") == "lib.pages.chaos"
    assert _resolve("lib", LIB / "__init__.py", 1, None) == "lib"
    assert _imports_pages("lib", "pages") and _imports_pages("lib.pages.common", "seeds")
    assert not _imports_pages("lib", "summary") and not _imports_pages("lib.pagesx", None)


def test_only_the_pages_and_the_command_line_import_the_pages():
    mods = _modules()
    assert set(MAY_IMPORT_PAGES) <= set(mods), "an exception names a module that is gone"
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {src}{'' if name is None else '.' + name}"
                 for module, (path, tree) in mods.items()
                 if not (module == "lib.pages" or module.startswith("lib.pages.")) and module not in MAY_IMPORT_PAGES
                 for src, name, _, line in _imports(module, path, tree) if _imports_pages(src, name)]
    assert not offenders, "the library below the pages imports them:\n" + "\n".join(offenders)


def test_no_module_uses_another_modules_private_names():
    mods = _modules()
    offenders = []
    for module, (path, tree) in mods.items():
        here = path.relative_to(ROOT)
        bound = {}  # local name -> the lib module it is bound to
        for src, name, local, line in _imports(module, path, tree):
            target = src if name is None else f"{src}.{name}"
            if name is not None and name.startswith("_") and not name.startswith("__") and src != module:
                offenders.append(f"{here}:{line} imports {name} from {src}")
            if target in mods and target != module:
                bound[local] = target
            elif name is None and local is not None and src in mods:  # import lib.x binds lib
                bound[local] = local
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id in bound):
                offenders.append(f"{here}:{node.lineno} uses {bound[node.value.id]}.{node.attr}")
    assert not offenders, "private names used across modules (make them public):\n" + "\n".join(offenders)
