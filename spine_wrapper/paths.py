"""Where the dbt project and the default warehouse live.

Two layouts, told apart by what is on disk (never by mutable state):
- a checkout (or an editable install of one): the dbt project is the repository's top level,
  the parent of this package; the default warehouse is its `warehouse/` folder, as before;
- an installed wheel: the build copies the project into the package, `spine_wrapper/dbt_project`
  (pyproject.toml, `force-include`); the default warehouse is `warehouse/` under the current
  directory, never inside site-packages.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_PROJECT = "dbt_project"  # the project's folder inside the installed package


def project_dir(package_dir: Path = PACKAGE_DIR) -> Path:
    """The dbt project: the copy shipped inside the package when there is one (a wheel
    install), else the checkout the package sits in (a source tree or an editable install)."""
    packaged = package_dir / PACKAGED_PROJECT
    if (packaged / "dbt_project.yml").is_file():
        return packaged
    checkout = package_dir.parent
    if (checkout / "dbt_project.yml").is_file():
        return checkout
    return packaged  # neither: a broken install; dbt names the missing dbt_project.yml here


def is_installed(project: Path, package_dir: Path = PACKAGE_DIR) -> bool:
    """Whether `project` is the copy shipped inside the package (not a checkout)."""
    return project == package_dir / PACKAGED_PROJECT


def default_warehouse_dir(project: Path, package_dir: Path = PACKAGE_DIR) -> Path:
    """The folder of the default warehouse: the checkout's `warehouse/`, or, installed,
    `warehouse` relative to the current directory (made absolute when used)."""
    return Path("warehouse") if is_installed(project, package_dir) else project / "warehouse"


PROJECT_DIR = project_dir()
SEEDS_DIR = PROJECT_DIR / "seeds"
DEFAULT_DB = default_warehouse_dir(PROJECT_DIR) / "spine.duckdb"
DEFAULT_SPARK_DIR = default_warehouse_dir(PROJECT_DIR) / "spark"
# `spine-dbt demo`'s sample files: beside the default warehouse folder (the checkout's
# demo_data/, or demo_data under the current directory when installed).
DEFAULT_DEMO_DIR = default_warehouse_dir(PROJECT_DIR).parent / "demo_data"


def describe_default(path: Path) -> str:
    """A default path as --help shows it: absolute, or said to be under the current directory."""
    return str(path) if path.is_absolute() else f"{path} under the current directory"


def resolve_db(db: str | os.PathLike[str] | None) -> Path:
    """The absolute database path: the argument, else $SPINE_DB, else the default.

    Relative paths are resolved against the current directory once, here, so dbt always
    receives an absolute path and never creates a second database elsewhere.
    """
    chosen = db or os.environ.get("SPINE_DB") or DEFAULT_DB
    return Path(chosen).expanduser().resolve()
