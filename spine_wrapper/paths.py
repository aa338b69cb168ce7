"""Where the dbt project and the default warehouse live."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_DIR / "seeds"
DEFAULT_DB = PROJECT_DIR / "warehouse" / "spine.duckdb"
DEFAULT_SPARK_DIR = PROJECT_DIR / "warehouse" / "spark"


def resolve_db(db: str | os.PathLike[str] | None) -> Path:
    """The absolute database path: the argument, else $SPINE_DB, else the project default.

    Relative paths are resolved against the current directory once, here, so dbt always
    receives an absolute path and never creates a second database elsewhere.
    """
    chosen = db or os.environ.get("SPINE_DB") or DEFAULT_DB
    return Path(chosen).expanduser().resolve()
