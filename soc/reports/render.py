"""Rendering a :class:`~soc.reports.forms.Document` with the jinja2 templates of ``reports/``:
``html/<name>.html.j2`` (one self-contained file, inline SVG charts), ``md/<name>.md.j2`` and
``docx/<name>.docx`` (docxtpl: jinja2 inside a Word file, so offices can edit, sign and seal).

A configured folder (``reports.templates``) is searched first, then the shipped templates; for
each format the document's own template name is tried, then ``document`` (the generic one).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from soc.content import content_dir
from soc.errors import InputError, NotFoundError
from soc.reports import fmt
from soc.reports.forms import Document
from soc.textsafe import UNSAFE

GENERIC = "document"


class Format(StrEnum):
    HTML = "html"
    MD = "md"
    DOCX = "docx"

    @classmethod
    def of(cls, path: Path | None, explicit: str | None) -> Format:
        """The format asked for, else the one the output file's suffix names, else Markdown."""
        if explicit:
            return cls(explicit)
        suffix = path.suffix.lower().lstrip(".") if path else ""
        aliases = {"htm": "html", "markdown": "md"}
        suffix = aliases.get(suffix, suffix)
        if suffix in {f.value for f in cls}:
            return cls(suffix)
        return cls.MD


def template_dirs(extra: Path | None = None) -> list[Path]:
    """Where templates are looked for: the configured folder, then the shipped ``reports/``."""
    shipped = content_dir("reports")
    return [p for p in (extra, shipped) if p is not None]


# Markdown: what a value must not do is open HTML (renderers pass it through), a link, an
# image, emphasis, code or a table cell, or start a heading, list or quote.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
# at the start of a value (which a template may put at the start of a line)
_MD_BLOCK = re.compile(r"^(\s*)(?:(#{1,6}|[-+*])(?=\s|$)|(=+|-+)\s*$|(\d{1,9})([.)])(?=\s|$))")
_CONTROL = UNSAFE


def _block(m: re.Match[str]) -> str:
    lead, marker, rule, number, dot = m.groups()
    if number:
        return f"{lead}{number}\\{dot}"
    return f"{lead}\\{marker or rule}"


def _shown(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def md_escape(value: Any) -> Markup:
    """A value as Markdown text that shows as itself: HTML-escaped, Markdown punctuation
    backslash-escaped, control and bidirectional characters shown as ``\\x1b``-style text,
    line breaks as ``<br>``. :class:`~markupsafe.Markup` (the templates' own markup) passes."""
    if isinstance(value, Markup):
        return value
    lines = str(value).replace("\r\n", "\n").split("\n")
    return Markup("<br>".join(_md_line(line) for line in lines))


def _md_line(line: str) -> str:
    text = html.escape(_CONTROL.sub(_shown, line), quote=False)
    return _MD_BLOCK.sub(_block, _MD_INLINE.sub(r"\\\1", text))


def _environment(dirs: Sequence[Path], fmt_: Format) -> jinja2.Environment:
    # Markdown is escaped by finalize (every {{ }}), since jinja2's autoescape knows only HTML
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        autoescape=fmt_ is Format.HTML, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
        finalize=md_escape if fmt_ is Format.MD else None)
    env.globals.update(EMPTY=fmt.EMPTY, NATION=fmt.NATION, MOTTO=fmt.MOTTO,
                       CHECKED=fmt.CHECKED, UNCHECKED=fmt.UNCHECKED)
    # kept for templates written before the escaping: values are escaped whole now
    env.filters["md_cell"] = md_escape
    env.filters["safe_svg"] = Markup
    return env


def _find(dirs: Sequence[Path], names: Sequence[str]) -> tuple[Path, str] | None:
    for d in dirs:
        for name in names:
            if (d / name).is_file():
                return d, name
    return None


def render(doc: Document, fmt_: Format, *, template: str | None = None,
           templates: Path | None = None) -> bytes:
    """The document in one format, as bytes (UTF-8 text for HTML and Markdown)."""
    dirs = template_dirs(templates)
    generic = [f"{GENERIC}-landscape", GENERIC] if doc.landscape else [GENERIC]
    names = [n for n in (template, doc.kind, *generic) if n]
    suffix = {Format.HTML: ".html.j2", Format.MD: ".md.j2", Format.DOCX: ".docx"}[fmt_]
    found = _find(dirs, [f"{fmt_.value}/{n}{suffix}" for n in names])
    if found is None:
        raise NotFoundError(f"no {fmt_.value} template for {doc.kind} in "
                            f"{', '.join(map(str, dirs))}",
                            hint="Reinstall soc with its data files, or check reports.templates "
                                 "in soc.yml.")
    folder, name = found
    context: dict[str, Any] = {"doc": doc}
    if fmt_ is Format.DOCX:
        return _docx(folder / name, context, dirs)
    env = _environment(dirs, fmt_)
    try:
        return env.get_template(name).render(context).encode("utf-8")
    except jinja2.TemplateError as exc:
        raise InputError(f"template {folder / name}: {exc}") from exc


def _docx(path: Path, context: dict[str, Any], dirs: Sequence[Path]) -> bytes:
    from docxtpl import DocxTemplate

    tpl = DocxTemplate(str(path))
    env = _environment(dirs, Format.DOCX)
    try:
        tpl.render(context, jinja_env=env, autoescape=True)
    except jinja2.TemplateError as exc:
        raise InputError(f"template {path}: {exc}") from exc
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def write(data: bytes, path: Path | None) -> Path | None:
    """Write to ``path`` (parents created); None means stdout, for text formats only."""
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
