"""Write the DOCX templates of ``reports/docx/`` (docxtpl: jinja2 tags inside a Word file).

    python docs/tools/make_docx_templates.py            # rewrites reports/docx/*.docx

The templates are generated, not hand-edited, so that a change is reviewable here. They mirror
``reports/html/document.html.j2``: national heading block, title, "Kính gửi", sections (figures,
text, fields with checkboxes, tables with as many columns as the document has), notes, "Nơi nhận"
and the signature block. Layout follows Nghị định 30/2020/NĐ-CP: A4, Times New Roman 13 pt,
margins 20 mm top and bottom, 30 mm left, 15 mm right. ``document-landscape.docx`` is the same on
a landscape page, for the wide tables of Mẫu 05 and Mẫu 08.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

OUT = Path(__file__).resolve().parents[2] / "reports" / "docx"
FONT = "Times New Roman"

FIELD = ("{{ f.label }}{{ ' (*)' if f.required else '' }}: "
         "{% if f.choices %}{% for c in f.choices %}{{ CHECKED if c.checked else UNCHECKED }} "
         "{{ c.label }}{{ ': ' ~ c.detail if c.detail else '' }}    {% endfor %}"
         "{{ '' if f.filled else EMPTY }}{% else %}{{ f.shown }}{% endif %}")


def _para(cell_or_doc: object, text: str = "", *, bold: bool = False, italic: bool = False,
          align: WD_ALIGN_PARAGRAPH | None = None, size: float | None = None) -> Paragraph:
    para: Paragraph = cell_or_doc.add_paragraph()  # type: ignore[attr-defined]
    if text:
        run = para.add_run(text)
        run.bold, run.italic = bold, italic
        if size:
            run.font.size = Pt(size)
    if align is not None:
        para.alignment = align
    para.paragraph_format.space_after = Pt(2)
    return para


def _no_borders(table: Table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    table._tbl.tblPr.append(borders)


def _first(cell: object, text: str, **kw: object) -> Paragraph:
    """Write into a cell's existing first paragraph."""
    para: Paragraph = cell.paragraphs[0]  # type: ignore[attr-defined]
    run = para.add_run(text)
    run.bold = bool(kw.get("bold"))
    run.italic = bool(kw.get("italic"))
    para.alignment = kw.get("align", WD_ALIGN_PARAGRAPH.CENTER)  # type: ignore[assignment]
    return para


def _heading(doc: object) -> None:
    center = WD_ALIGN_PARAGRAPH.CENTER
    table = doc.add_table(rows=1, cols=2)  # type: ignore[attr-defined]
    _no_borders(table)
    table.autofit = False
    left, right = table.rows[0].cells
    widths = (Mm(68), Mm(97)) if not LANDSCAPE[0] else (Mm(110), Mm(142))
    for column, cell, width in zip(table.columns, (left, right), widths, strict=True):
        column.width = cell.width = width  # the grid (LibreOffice) and the cells (Word)
    _first(left, "{{ doc.heading.agency }}", align=center)
    _para(left, "{{ doc.heading.organization or EMPTY }}", bold=True, align=center)
    _para(left, "{{ doc.heading.number }}", align=center)
    _first(right, "{{ NATION }}", bold=True, align=center).runs[0].font.size = Pt(12)
    _para(right, "{{ MOTTO }}", bold=True, align=center)
    _para(right, "{{ doc.heading.place_date }}", italic=True, align=center)


def _data_table(doc: object) -> None:
    """A table with as many columns as the document's: docxtpl repeats the middle cell of the
    ``{%tc %}`` rows per column and the ``{%tr %}`` row per data row. Widths are left to the
    word processor (100 % of the text width, autofit) since the column count varies."""
    table = doc.add_table(rows=4, cols=3)  # type: ignore[attr-defined]
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    rows = (("{%tc for c in s.table.columns %}", "{{ c }}", "{%tc endfor %}"),
            ("{%tr for row in s.table.rows %}", "", ""),
            ("{%tc for cell in row %}", "{{ cell }}", "{%tc endfor %}"),
            ("{%tr endfor %}", "", ""))
    for r, texts in enumerate(rows):
        for c, value in enumerate(texts):
            if value:
                _first(table.rows[r].cells[c], value, bold=r == 0 and c == 1,
                       align=WD_ALIGN_PARAGRAPH.LEFT)
    for tc in table._tbl.iter(qn("w:tcW")):
        tc.getparent().remove(tc)
    width = table._tbl.tblPr.find(qn("w:tblW"))
    width.set(qn("w:type"), "pct")
    width.set(qn("w:w"), "5000")
    for run in (r for row in table.rows for cell in row.cells for p in cell.paragraphs
                for r in p.runs):
        run.font.size = Pt(11)


def _signature(doc: object) -> None:
    table = doc.add_table(rows=1, cols=2)  # type: ignore[attr-defined]
    _no_borders(table)
    left, right = table.rows[0].cells
    _first(left, "Nơi nhận:", bold=True, italic=True, align=WD_ALIGN_PARAGRAPH.LEFT)
    _para(left, "{%p for r in doc.recipients %}")
    _para(left, "- {{ r }};", size=11)
    _para(left, "{%p endfor %}")
    _para(left, "- Lưu: VT.", size=11)
    center = WD_ALIGN_PARAGRAPH.CENTER
    _first(right, "{{ doc.signature.authority }}", bold=True, align=center)
    _para(right, "{{ doc.signature.title }}", bold=True, align=center)
    _para(right, "{{ doc.signature.hint }}", italic=True, align=center)
    for _ in range(4):
        _para(right)
    _para(right, "{{ doc.signature.name }}", bold=True, align=center)


LANDSCAPE = [False]  # the page of the template being built (the heading's column widths)


def build(landscape: bool) -> Document:
    LANDSCAPE[0] = landscape
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(13)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    section = doc.sections[0]
    section.page_width, section.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210),
                                                                                     Mm(297))
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.top_margin = section.bottom_margin = Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    _para(doc, "{{ doc.form }}{{ ' - ' ~ doc.basis if doc.basis else '' }}", italic=True,
          align=WD_ALIGN_PARAGRAPH.RIGHT, size=11)
    _heading(doc)
    _para(doc, "{{ doc.title }}", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, size=14)
    _para(doc, "{{ doc.subtitle }}", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, "{%p if doc.recipients %}")
    _para(doc, "Kính gửi: {{ doc.recipients | join('; ') }}.", align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, "{%p endif %}")
    _para(doc, "Thời gian trong tài liệu: giờ Việt Nam ({{ doc.zone }}).", italic=True,
          align=WD_ALIGN_PARAGRAPH.RIGHT, size=11)
    _para(doc, "{%p for s in doc.sections %}")
    _para(doc, "{{ s.title }}", bold=True)
    _para(doc, "{%p for label, value in s.kpis %}")
    _para(doc, "- {{ label }}: {{ value }}")
    _para(doc, "{%p endfor %}")
    _para(doc, "{%p if s.text %}")
    _para(doc, "{{ s.text }}")
    _para(doc, "{%p endif %}")
    _para(doc, "{%p for f in s.fields %}")
    _para(doc, FIELD)
    _para(doc, "{%p endfor %}")
    _para(doc, "{%p if s.table %}")
    _para(doc, "{%p if s.table.rows %}")
    _data_table(doc)
    _para(doc, "{%p else %}")
    _para(doc, "{{ s.table.empty }}", italic=True)
    _para(doc, "{%p endif %}")
    _para(doc, "{%p endif %}")
    _para(doc, "{%p endfor %}")
    _para(doc, "{%p for n in doc.notes %}")
    _para(doc, "Ghi chú: {{ n }}", italic=True, size=11)
    _para(doc, "{%p endfor %}")
    _signature(doc)
    return doc


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, landscape in (("document", False), ("document-landscape", True)):
        path = OUT / f"{name}.docx"
        build(landscape).save(str(path))
        print(f"wrote {path} ({path.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
