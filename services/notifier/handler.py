"""NotifierFunction entry point: configuration and adapters are built once, at cold start.

A bad configuration (no sender, a malformed recipient, ...) fails here, before any record is
taken, with a message naming the variable.
"""

from services.notifier.app import build_persistence, build_sender, make_handler
from services.notifier.config import load_notifier_config

_config = load_notifier_config()
lambda_handler = make_handler(_config, build_sender(_config), build_persistence(_config))
