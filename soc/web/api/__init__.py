"""The console's JSON API under /api, one module per group (see soc.web.routes)."""
