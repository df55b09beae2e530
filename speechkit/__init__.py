"""speechkit: clean, index and analyse scraped Chinese political speeches.

The public API is `speechkit.Workspace` (see `speechkit.workspace`); it is imported on first
use, so `import speechkit` (and every command's start-up) stays light.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["Workspace", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from .workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'speechkit' has no attribute {name!r}")
