"""Where the configs and the bundled MNIST copy are: beside the package in a clone, inside it once installed.

A clone (and its editable install) keeps `conf/` and `data/` at the top of the project. A wheel carries the
same files inside the package, as `mnist_lightning/conf/` and `mnist_lightning/bundled/` (pyproject.toml maps
them), so the entry points run from any folder.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # mnist_lightning/, this file being in base/
INSTALLED = (PACKAGE_DIR / "conf").is_dir()  # a wheel's layout; a clone has conf/ beside the package
CONF_DIR = PACKAGE_DIR / "conf" if INSTALLED else PACKAGE_DIR.parent / "conf"
BUNDLED_DATA_DIR = PACKAGE_DIR / "bundled" if INSTALLED else PACKAGE_DIR.parent / "data"
PROJECT_ROOT = None if INSTALLED else PACKAGE_DIR.parent  # the clone: git, README.md, docs/, outputs/results/
