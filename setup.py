"""Packages for the wheel: lowlight's own, plus the top-level conf/ mapped to lowlight/conf.

pyproject.toml holds everything else. This file exists only because the mapped config tree
(conf/ and each of its group folders) cannot be listed by a `find` in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
CONF = HERE / "conf"
conf_packages = ["lowlight.conf"] + [
    ".".join(("lowlight.conf", *d.relative_to(CONF).parts))
    for d in sorted(CONF.rglob("*"))
    if d.is_dir() and not d.name.startswith((".", "__"))
]

setup(
    packages=find_packages(include=["lowlight", "lowlight.*"]) + conf_packages,
    package_dir={"lowlight.conf": "conf"},
)
