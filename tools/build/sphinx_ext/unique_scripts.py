"""A Sphinx extension of the book's build: each page includes each script once.

Jupyter Book 1.x registers sphinx-thebe's inline configuration (``const THEBE_JS_URL = ...``)
twice, once with the file name ``None`` and once with ``""``, so Sphinx's own check for repeats
does not see them as one, and every page logged ``Identifier 'THEBE_JS_URL' has already been
declared`` in the browser console. The book uses no launch buttons; rather than patch the
extension, this drops exact repeats (same file, same attributes, same inline body; priority
ignored) from each page's script list.
"""

from __future__ import annotations

from typing import Any


def unique_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    kept = []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        filename = getattr(script, "filename", script) or ""  # an inline script is None or ""
        key = (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
