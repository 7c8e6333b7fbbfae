"""Reports: the incident documents and periodic monitoring reports the authorities expect.

Incident documents (:mod:`soc.reports.incident`) are the duties of the incident's regulatory
profile, filled from the incident record; monitoring reports (:mod:`soc.reports.monitoring`,
:mod:`soc.reports.summary`) are computed from the store for a period, a unit or a system, with
the aggregations done by the store (``Store.aggregate``). Both become a
:class:`~soc.reports.forms.Document` that :mod:`soc.reports.render` writes as HTML (inline SVG
charts), Markdown or DOCX. What is due and when comes from :mod:`soc.reports.calendar`.
See docs/reports.md.
"""
