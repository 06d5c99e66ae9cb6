"""The one configuration error type (its own module so shared.secrets and shared.config share it)."""


class ConfigError(RuntimeError):
    """Raised at cold start; the message names every bad variable (never its value)."""
