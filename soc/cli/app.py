"""What every command gets: the global options and the lazily loaded config.

The command modules import :class:`App` and :data:`pass_app` from here; :mod:`soc.cli.main`
assembles them into the ``soc`` group, so no command module imports ``main``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import click

from soc.config import Config, load_config
from soc.fsutil import GROUP_UMASK, share_with_group


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
            config = load_config(self.config_path, data_dir=self.data_dir)
            if config.data_group is not None:
                share_with_group(config.data_dir, config.data_group,
                                 umask=None if os.environ.get("SOC_UMASK") else GROUP_UMASK)
            self._config = config
        return self._config


pass_app = click.make_pass_decorator(App)
