"""The console's HTML pages, one module per page group (see soc.web.routes)."""
