"""A Sphinx extension of the book's build: every image says what it shows.

Sphinx writes an image's ``alt`` text from its ``alt`` option, and without one from its file name,
so every figure a notebook cell draws (a hashed PNG under ``_images/``) would be read out as a path.
This sets the ``alt`` of each image inside a figure that has none to the figure's caption (the
numbered caption that names what the figure shows, its profile and seeds), and of any other image
without one to a short description, once glue and cross-references are resolved
(``doctree-resolved``).
"""

from __future__ import annotations

from typing import Any

from docutils import nodes

#: an alt text longer than this is cut at a word boundary (screen readers read captions in full)
MAX_ALT = 400


def _caption_text(figure: nodes.figure) -> str:
    caption = next(iter(figure.findall(nodes.caption)), None)
    if caption is None:
        return ""
    text = " ".join(caption.astext().split())
    if len(text) > MAX_ALT:
        text = text[:MAX_ALT].rsplit(" ", 1)[0] + " …"
    return text


def _is_path(alt: str, uri: str) -> bool:
    return not alt or alt == uri or alt.endswith((".png", ".svg", ".jpg", ".jpeg", ".gif"))


def add_alt_text(app: Any, doctree: nodes.document, docname: str) -> None:
    for image in doctree.findall(nodes.image):
        alt = str(image.get("alt", ""))
        if not _is_path(alt, str(image.get("uri", ""))):
            continue
        figure = image.parent
        while figure is not None and not isinstance(figure, nodes.figure):
            figure = figure.parent
        text = _caption_text(figure) if figure is not None else ""
        image["alt"] = text or "A figure drawn by the code cell above."


def setup(app: Any) -> dict[str, Any]:
    app.connect("doctree-resolved", add_alt_text)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
