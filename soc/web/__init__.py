"""The web console and its JSON API (issue #21): the CLI's actions behind a login."""
