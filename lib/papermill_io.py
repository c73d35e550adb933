"""A papermill I/O handler that reads and writes the book's MyST notebooks with jupytext.

papermill only reads .ipynb JSON; the book's pages are Jupytext MyST (.md)
files. This handler is registered through the ``papermill.io`` entry point for
paths starting with ``book/`` (see pyproject.toml), so that

    papermill book/cone.md out.ipynb -p arch resnet20

works literally. Paths that are not .md under ``book/`` go to papermill's local handler.
"""
from __future__ import annotations

import warnings

import jupytext
import nbformat
from papermill.iorw import LocalHandler

# papermill warns that a path not ending in .ipynb/.json may not be a notebook; for the text
# notebooks this handler reads, it is one (the warning is papermill's, printed on every run)
warnings.filterwarnings("ignore", message=r"The specified file \(.*\.(md|myst|py)\) does not end in one of",
                        category=UserWarning)


class MystHandler:
    @staticmethod
    def _is_text_notebook(path: str) -> bool:
        return path.endswith((".md", ".py", ".myst"))

    @classmethod
    def read(cls, path: str) -> str:
        if not cls._is_text_notebook(path):
            return LocalHandler().read(path)
        nb = jupytext.read(path)
        nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
        return nbformat.writes(nb)

    @classmethod
    def write(cls, buf: str, path: str):
        if not cls._is_text_notebook(path):
            return LocalHandler().write(buf, path)
        jupytext.write(nbformat.reads(buf, as_version=4), path, fmt="md:myst")

    @staticmethod
    def listdir(path: str):
        return LocalHandler().listdir(path)

    @staticmethod
    def pretty_path(path: str) -> str:
        return path
