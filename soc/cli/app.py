"""What every command gets: the global options and the lazily loaded config.

The command modules import :class:`App` and :data:`pass_app` from here; :mod:`soc.cli.main`
assembles them into the ``soc`` group, so no command module imports ``main``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from soc.config import Config, load_config


@dataclass
class App:
    """The global options and the config, loaded on first use."""

    config_path: str | None = None
    data_dir: str | None = None
    verbose: int = 0
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path, data_dir=self.data_dir)
        return self._config


pass_app = click.make_pass_decorator(App)
