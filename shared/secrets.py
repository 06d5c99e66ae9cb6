"""Secrets at cold start: a plain variable, or an SSM SecureString parameter it names.

A deployed stack sets `<VARIABLE>_PARAM` (e.g. `SMTP_PASSWORD_PARAM=/scc/prod/smtp-password`)
and the value is read once, decrypted, through Powertools parameters (cached for
`SECRETS_MAX_AGE_SECONDS`, so a warm start costs no call). Only the local stack and the tests set
the plain variable itself. Exactly one of the two may be set; anything else fails the cold start
with a message naming the variable (never its value).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from shared.config_errors import ConfigError

PARAM_SUFFIX = "_PARAM"
SECRETS_MAX_AGE_SECONDS = 300

Fetch = Callable[[str], str]


def ssm_fetch(name: str) -> str:
    """Read and decrypt one SecureString parameter (imported lazily: plain secrets cost nothing)."""
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_parameter(name, decrypt=True, max_age=SECRETS_MAX_AGE_SECONDS))


def resolve_secrets(
    environ: Mapping[str, str],
    secrets: Mapping[str, bool],
    *,
    owner: str,
    fetch: Fetch = ssm_fetch,
) -> dict[str, str]:
    """`environ` with every secret in `secrets` (variable -> required) filled in, or
    ConfigError naming each variable that is missing, doubly set or unreadable."""
    env, problems = collect_secrets(environ, secrets, fetch=fetch)
    if problems:
        raise ConfigError(f"{owner}: invalid environment: " + "; ".join(sorted(problems)))
    return env


def collect_secrets(
    environ: Mapping[str, str], secrets: Mapping[str, bool], *, fetch: Fetch = ssm_fetch
) -> tuple[dict[str, str], list[str]]:
    """Like resolve_secrets, but returns the problems (one line per variable) instead.

    Blank values count as unset (an empty template parameter arrives as "").
    """
    env = {k: v for k, v in environ.items() if not (k in secrets and not v.strip())}
    problems: list[str] = []
    for variable, required in secrets.items():
        param_variable = variable + PARAM_SUFFIX
        plain = env.get(variable)
        name = (env.pop(param_variable, "") or "").strip()
        if plain is not None and name:
            problems.append(f"{variable}: set either {variable} or {param_variable}, not both")
        elif name:
            try:
                env[variable] = fetch(name)
            except Exception as exc:  # noqa: BLE001 - reported by name, then the start fails
                problems.append(
                    f"{param_variable}: cannot read SSM parameter {name} ({type(exc).__name__})"
                )
        elif plain is None and required:
            problems.append(
                f"{variable}: required (or {param_variable}, the name of an SSM SecureString parameter)"
            )
    return env, problems
