"""The Lambda platform the functions run on, read from template.yaml, and the check that an
artifact carries native code for that platform only.

`sam build` (build/Makefile) installs the runtime requirements as wheels for the template's
architecture and Python version, without a compiler or a container, so a wheel for the wrong
machine would only fail in Lambda, at the first import of its extension module. The Makefile
therefore takes the platform from here rather than restating it, and runs `check-artifact` on
every artifact it assembles:

    python build/lambda_platform.py pip-platform    [--template T]  # manylinux2014_aarch64
    python build/lambda_platform.py python-version  [--template T]  # 3.11
    python build/lambda_platform.py check-artifact DIR [--template T]

Only the standard library is used: this runs before any dependency is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
FUNCTION_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})
LAMBDA_DEFAULT_ARCHITECTURE = "x86_64"  # what Lambda runs when a function names none


@dataclass(frozen=True)
class Architecture:
    name: str  # as the template spells it
    pip_platform: str  # the wheel platform tag pip installs for
    elf_machine: int  # e_machine of its ELF files
    elf_name: str


ARCHITECTURES = {
    "arm64": Architecture("arm64", "manylinux2014_aarch64", 183, "AArch64"),
    "x86_64": Architecture("x86_64", "manylinux2014_x86_64", 62, "x86-64"),
}
# Machines an ELF header may name, for the error message (e_machine -> name).
ELF_MACHINES = {3: "i386", 40: "ARM (32-bit)", 62: "x86-64", 183: "AArch64", 243: "RISC-V"}
# File names of native code: an extension module or a shared library, whatever it contains.
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib")
_SHARED_LIBRARY = re.compile(r"\.so(\.\d+)+$")


class PlatformError(ValueError):
    """The template does not name one platform every function can share."""


@dataclass(frozen=True)
class Platform:
    architecture: Architecture
    python_version: str  # "3.11"


# --- reading the template -------------------------------------------------------------------

_KEY = re.compile(
    r"^(?P<indent> *)(?P<item>- +)?(?P<key>[A-Za-z0-9_.:-]+):(?:[ \t]+(?P<value>.*))?$"
)
_ITEM = re.compile(r"^(?P<indent> *)- +(?P<value>.*)$")
_BLOCK_SCALAR = re.compile(r"^[|>][+-]?[0-9]?$")


def _strip_comment(line: str) -> str:
    # Good enough for the keys read here (no '#' inside their values).
    return re.sub(r"(^|\s)#.*$", "", line).rstrip()


def _scalar(text: str) -> str:
    return text.strip().strip("\"'")


def _flow_list(text: str) -> list[str]:
    inner = text.strip()
    if not (inner.startswith("[") and inner.endswith("]")):
        return [_scalar(inner)]
    return [_scalar(part) for part in inner[1:-1].split(",") if part.strip()]


def _settings(lines: Iterable[str]) -> Iterator[tuple[tuple[str, ...], str | list[str]]]:
    """(key path, value) for every scalar or list value of a block-style YAML document; paths
    run through mappings only (a list item's keys continue its parent's path)."""
    stack: list[tuple[int, str]] = []
    pending: tuple[tuple[str, ...], int] | None = None  # a key whose block list follows
    items: list[str] = []
    text_above: int | None = None  # inside a block scalar (| or >) whose key has this indent
    for raw in lines:
        if text_above is not None:
            if not raw.strip() or len(raw) - len(raw.lstrip(" ")) > text_above:
                continue
            text_above = None
        line = _strip_comment(raw)
        if not line.strip():
            continue
        if pending is not None:
            path, key_indent = pending
            item = _ITEM.match(line)
            if item and len(item.group("indent")) >= key_indent and ":" not in item.group("value"):
                items.append(_scalar(item.group("value")))
                continue
            if items:
                yield path, items
            pending, items = None, []
        match = _KEY.match(line)
        if match is None:
            continue
        indent = len(match.group("indent")) + len(match.group("item") or "")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*(key for _, key in stack), match.group("key"))
        value = match.group("value")
        if value is None or not value.strip():
            stack.append((indent, match.group("key")))
            pending = (path, indent)
        elif _BLOCK_SCALAR.match(value.strip()):
            text_above = indent
        elif value.strip().startswith("["):
            yield path, _flow_list(value)
        else:
            yield path, _scalar(value)
    if pending is not None and items:
        yield pending[0], items


def read_platform(template: Path = DEFAULT_TEMPLATE) -> Platform:
    """The one architecture and Python version of every function in `template`."""
    settings = dict(_settings(template.read_text(encoding="utf-8").splitlines()))
    functions = [
        path[1]
        for path, value in settings.items()
        if len(path) == 3 and path[0] == "Resources" and path[2] == "Type"
        if value in FUNCTION_TYPES
    ]
    if not functions:
        raise PlatformError(f"{template}: no Lambda function found")
    architectures: dict[str, set[str]] = {}
    runtimes: dict[str, set[str]] = {}
    for function in functions:
        for setting, found, default in (
            ("Architectures", architectures, [LAMBDA_DEFAULT_ARCHITECTURE]),
            ("Runtime", runtimes, None),
        ):
            value = settings.get(
                ("Resources", function, "Properties", setting),
                settings.get(("Globals", "Function", setting), default),
            )
            if value is None:
                raise PlatformError(f"{template}: {function} has no {setting}")
            values = value if isinstance(value, list) else [value]
            if len(values) != 1:
                raise PlatformError(f"{template}: {function} {setting} must name exactly one")
            found.setdefault(values[0], set()).add(function)
    if len(architectures) != 1 or len(runtimes) != 1:
        raise PlatformError(
            f"{template}: every function must share one architecture and one runtime (the "
            f"build installs one set of wheels); found {sorted(architectures)} and "
            f"{sorted(runtimes)}"
        )
    (architecture,) = architectures
    (runtime,) = runtimes
    if architecture not in ARCHITECTURES:
        raise PlatformError(f"{template}: unknown architecture {architecture!r}")
    version = re.fullmatch(r"python(3\.\d+)", runtime)
    if version is None:
        raise PlatformError(f"{template}: runtime {runtime!r} is not a Python runtime")
    return Platform(ARCHITECTURES[architecture], version.group(1))


# --- checking an artifact -------------------------------------------------------------------

_ELF_MAGIC = b"\x7fELF"
_ELFCLASS64 = 2
_ELFDATA2LSB = 1


def elf_machine(header: bytes) -> int | None:
    """e_machine of a 64-bit little-endian ELF header, None for anything else (not ELF, or a
    32-bit or big-endian one, which no Lambda architecture runs)."""
    if len(header) < 20 or header[:4] != _ELF_MAGIC:
        return None
    if header[4] != _ELFCLASS64 or header[5] != _ELFDATA2LSB:
        return None
    return int.from_bytes(header[18:20], "little")


def _looks_native(path: Path) -> bool:
    return path.name.endswith(_NATIVE_SUFFIXES) or _SHARED_LIBRARY.search(path.name) is not None


def foreign_binaries(root: Path, architecture: Architecture) -> tuple[int, list[str]]:
    """(native files found, problems): every ELF file under `root` and every file named like
    native code must be a 64-bit little-endian ELF file for `architecture`."""
    checked = 0
    problems: list[str] = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as file:
            header = file.read(20)
        is_elf = header[:4] == _ELF_MAGIC
        if not is_elf and not _looks_native(path):
            continue
        checked += 1
        relative = path.relative_to(root)
        machine = elf_machine(header)
        if machine is None:
            kind = "an ELF file that is not 64-bit little-endian" if is_elf else "not an ELF file"
            problems.append(f"{relative}: {kind}")
        elif machine != architecture.elf_machine:
            found = ELF_MACHINES.get(machine, f"machine {machine}")
            problems.append(f"{relative}: built for {found}, not {architecture.elf_name}")
    return checked, problems


# --- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["pip-platform", "python-version", "check-artifact"])
    parser.add_argument("directory", nargs="?", type=Path, help="the artifact (check-artifact)")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    args = parser.parse_args(argv)
    try:
        platform = read_platform(args.template)
    except (OSError, PlatformError) as exc:
        print(f"lambda_platform: {exc}", file=sys.stderr)
        return 2
    if args.command == "pip-platform":
        print(platform.architecture.pip_platform)
        return 0
    if args.command == "python-version":
        print(platform.python_version)
        return 0
    if args.directory is None or not args.directory.is_dir():
        parser.error("check-artifact needs the artifact's directory")
    checked, problems = foreign_binaries(args.directory, platform.architecture)
    if problems:
        print(
            f"lambda_platform: {args.directory} holds native code the template's "
            f"{platform.architecture.name} functions cannot load:",
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{args.directory}: {checked} native file(s), all {platform.architecture.elf_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
