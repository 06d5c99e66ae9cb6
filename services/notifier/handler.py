"""NotifierFunction entry point: configuration and adapters are built once, at cold start.

A bad configuration (no sender, a malformed recipient, ...) fails here, before any record is
taken, with a message naming the variable.
"""

from shared.coldstart import cold_start

with cold_start():
    from services.notifier.app import build_persistence, build_sender, make_handler
    from services.notifier.config import load_notifier_config
    from shared.clients import aws_session

    _config = load_notifier_config()
    lambda_handler = make_handler(
        _config,
        build_sender(_config, session=aws_session()),
        build_persistence(_config, session=aws_session()),
    )
