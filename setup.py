"""Which packages the distribution holds, found by rule rather than listed by hand.

The four source folders at the root are installed under the one ``storecheck.`` namespace
(``conformance/`` becomes ``storecheck.conformance``).  setuptools' declarative discovery
cannot add that prefix, so this file maps each folder and lets namespace discovery find
every package below it, ``__init__.py`` or not: a new package needs nothing here or in
``pyproject.toml``.  Everything else about the distribution is in ``pyproject.toml``.
"""

from setuptools import find_namespace_packages, setup

SOURCE_FOLDERS = ("conformance", "plugin", "fixtures", "reference_impl")

setup(
    package_dir={f"storecheck.{folder}": folder for folder in SOURCE_FOLDERS},
    packages=[
        f"storecheck.{folder}{'.' + found if found else ''}"
        for folder in SOURCE_FOLDERS
        for found in ["", *find_namespace_packages(where=folder, exclude=["*__pycache__*"])]
    ],
)
