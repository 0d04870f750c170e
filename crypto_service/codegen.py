"""Generates the betterproto2 package `crypto_service/generated/` from `proto/`.

Used by `make gen`, `crypto gen` and the package build (setup.py), so it imports nothing
from the rest of the project and nothing that is not a build requirement.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PLUGIN = "protoc-gen-python_betterproto2"
PLUGIN_OPTIONS = "client_generation=async,server_generation=async,google_protobuf_descriptors"
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_PROTO_DIR = PACKAGE_DIR.parent / "proto"
DEFAULT_OUT_DIR = PACKAGE_DIR / "generated"


class CodegenError(RuntimeError):
    pass


def tool_path() -> str:
    # The interpreter's own bin/ first: in a venv or pip's build environment the plugin (and
    # the ruff it formats with) sits beside python even when that directory is not on PATH.
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def find_plugin() -> str:
    plugin = shutil.which(PLUGIN, path=tool_path())
    if plugin is None:
        raise CodegenError(f"{PLUGIN} not found: pip install 'betterproto2-compiler==0.10.1'")
    return plugin


def generate(proto_dir: Path = DEFAULT_PROTO_DIR, out_dir: Path = DEFAULT_OUT_DIR) -> list[Path]:
    """Writes the generated package to out_dir, replacing what was there. Returns its files."""
    protos = sorted(proto_dir.glob("*.proto"))
    if not protos:
        raise CodegenError(f"no .proto files in {proto_dir}")
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"--plugin={PLUGIN}={find_plugin()}",
            f"--python_betterproto2_out={tmp}",
            f"--python_betterproto2_opt={PLUGIN_OPTIONS}",
            *[str(p) for p in protos],
        ]
        result = subprocess.run(command, capture_output=True, text=True,
                                env={**os.environ, "PATH": tool_path()})
        if result.returncode != 0:
            raise CodegenError(f"protoc failed:\n{result.stderr.strip()}")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.copytree(tmp, out_dir)
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


def main() -> None:
    try:
        files = generate()
    except CodegenError as exc:
        sys.exit(str(exc))
    print(f"generated {len(files)} files in {DEFAULT_OUT_DIR}")


if __name__ == "__main__":
    main()
