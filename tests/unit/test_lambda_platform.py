"""build/lambda_platform.py: the build's Lambda platform comes from template.yaml, and an
artifact with native code for another machine fails the build (tiny fake ELF headers here)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from build.lambda_platform import (
    ARCHITECTURES,
    PlatformError,
    elf_machine,
    foreign_binaries,
    main,
    read_platform,
)

ROOT = Path(__file__).resolve().parents[2]
EM_X86_64 = 62
EM_AARCH64 = 183

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
Globals:
  Function:
    Runtime: python3.11
{globals_architectures}    Timeout: 10
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  OneFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
    Properties:
      Description: >-
        Runtime: python2.7 and Architectures: [x86_64] in prose are not settings.
      Handler: services.one.handler.lambda_handler
{one_architectures}  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: services.other.handler.lambda_handler
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem]
"""


def template(tmp_path: Path, globals_architectures: str = "", one: str = "") -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(
        TEMPLATE.format(globals_architectures=globals_architectures, one_architectures=one),
        encoding="utf-8",
    )
    return path


def elf(machine: int, *, bits: int = 64, little_endian: bool = True) -> bytes:
    """The first bytes of an ELF shared object: ident (16), e_type (2), e_machine (2)."""
    order = "little" if little_endian else "big"
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if little_endian else 2, 1, 0])
    return ident + bytes(8) + (3).to_bytes(2, order) + machine.to_bytes(2, order) + bytes(44)


# --- the template ----------------------------------------------------------------------------


def test_the_repository_template_builds_for_arm64_and_python_3_11() -> None:
    platform = read_platform(ROOT / "template.yaml")
    assert platform.architecture.name == "arm64"
    assert platform.architecture.pip_platform == "manylinux2014_aarch64"
    assert platform.architecture.elf_machine == EM_AARCH64
    assert platform.python_version == "3.11"


@pytest.mark.parametrize(
    "globals_architectures",
    [
        "    Architectures: [arm64]\n",
        '    Architectures: ["arm64"]\n',
        "    Architectures:\n      - arm64\n",
    ],
)
def test_the_globals_architecture_is_read_in_every_yaml_form(
    tmp_path: Path, globals_architectures: str
) -> None:
    platform = read_platform(template(tmp_path, globals_architectures))
    assert platform.architecture is ARCHITECTURES["arm64"]


def test_without_architectures_lambda_runs_x86_64(tmp_path: Path) -> None:
    assert read_platform(template(tmp_path)).architecture is ARCHITECTURES["x86_64"]


def test_a_function_that_overrides_the_architecture_alike_is_accepted(tmp_path: Path) -> None:
    path = template(tmp_path, "    Architectures: [arm64]\n", "      Architectures: [arm64]\n")
    assert read_platform(path).architecture.name == "arm64"


def test_functions_on_different_architectures_fail_the_build(tmp_path: Path) -> None:
    path = template(tmp_path, "    Architectures: [arm64]\n", "      Architectures: [x86_64]\n")
    with pytest.raises(PlatformError, match="one architecture"):
        read_platform(path)


def test_an_unknown_architecture_fails_the_build(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="unknown architecture"):
        read_platform(template(tmp_path, "    Architectures: [mips]\n"))


def test_the_makefile_installs_wheels_for_the_template_platform() -> None:
    # A dry run (-n) with the requirements taken as changed (-W): prints the pip command.
    printed = subprocess.run(
        ["make", "-f", "build/Makefile", "-n", "-W", "requirements/runtime.txt", "artifact"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--platform manylinux2014_aarch64" in printed
    assert "--python-version 3.11" in printed
    assert "--only-binary=:all:" in printed
    assert "lambda_platform.py check-artifact" in printed


# --- the artifact ----------------------------------------------------------------------------


def test_elf_machine_reads_64_bit_little_endian_headers_only() -> None:
    assert elf_machine(elf(EM_AARCH64)) == EM_AARCH64
    assert elf_machine(elf(EM_X86_64)) == EM_X86_64
    assert elf_machine(elf(EM_AARCH64, bits=32)) is None
    assert elf_machine(elf(EM_AARCH64, little_endian=False)) is None
    assert elf_machine(b"#!/usr/bin/env python\n") is None


def artifact(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "artifact"
    for name, content in {
        "services/__init__.py": b"",
        "botocore/data/x.json": b"{}",
        **files,
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def test_an_artifact_of_aarch64_code_passes(tmp_path: Path) -> None:
    root = artifact(
        tmp_path,
        {
            "pydantic_core/_pydantic_core.cpython-311-aarch64-linux-gnu.so": elf(EM_AARCH64),
            "numpy.libs/libgfortran.so.5.0.0": elf(EM_AARCH64),
        },
    )
    assert foreign_binaries(root, ARCHITECTURES["arm64"]) == (2, [])


def test_an_x86_64_extension_module_fails_the_arm64_check(tmp_path: Path) -> None:
    name = "pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so"
    root = artifact(tmp_path, {name: elf(EM_X86_64)})
    checked, problems = foreign_binaries(root, ARCHITECTURES["arm64"])
    assert checked == 1
    assert problems == [f"{name}: built for x86-64, not AArch64"]


def test_native_code_under_any_name_and_non_elf_libraries_fail_the_check(tmp_path: Path) -> None:
    root = artifact(
        tmp_path,
        {
            "bin/helper": elf(EM_X86_64),  # an executable: ELF, whatever its name
            "lib/_speedups.so": b"\xcf\xfa\xed\xfe" + bytes(28),  # a Mach-O library
            "lib/old.so": elf(EM_AARCH64, bits=32),
        },
    )
    _, problems = foreign_binaries(root, ARCHITECTURES["arm64"])
    assert problems == [
        "bin/helper: built for x86-64, not AArch64",
        "lib/_speedups.so: not an ELF file",
        "lib/old.so: an ELF file that is not 64-bit little-endian",
    ]


def test_check_artifact_exits_non_zero_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = artifact(tmp_path, {"fast/_ext.cpython-311-x86_64-linux-gnu.so": elf(EM_X86_64)})
    assert main(["check-artifact", str(root), "--template", str(ROOT / "template.yaml")]) == 1
    error = capsys.readouterr().err
    assert "fast/_ext.cpython-311-x86_64-linux-gnu.so: built for x86-64, not AArch64" in error


def test_check_artifact_passes_an_aarch64_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = artifact(tmp_path, {"fast/_ext.cpython-311-aarch64-linux-gnu.so": elf(EM_AARCH64)})
    assert main(["check-artifact", str(root), "--template", str(ROOT / "template.yaml")]) == 0
    assert "1 native file(s), all AArch64" in capsys.readouterr().out
