"""Build hook: generate crypto_service/generated/ from proto/ whenever the package is built
(wheel, sdist or editable), so `pip install .` from a clean clone ships working generated code.
It runs before setuptools looks for packages, which therefore include the generated ones."""

import importlib.util
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent


def generate() -> None:
    spec = importlib.util.spec_from_file_location("_codegen", ROOT / "crypto_service" / "codegen.py")
    codegen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(codegen)
    codegen.generate(ROOT / "proto", ROOT / "crypto_service" / "generated")


generate()
setup(packages=find_packages(include=["crypto_service*"]))
