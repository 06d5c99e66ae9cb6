"""PeopleFunction entry point: configuration is read once, at cold start, and fails fast."""

from shared.coldstart import cold_start

with cold_start():
    from services.people.app import make_handler
    from services.people.directory import Directory
    from shared.config import PeopleConfig, load_config
    from shared.revocations import Revocations

    _config = load_config(PeopleConfig)
    lambda_handler = make_handler(
        _config,
        Directory.connect(user_pool_id=_config.user_pool_id, client_id=_config.user_pool_client_id),
        Revocations.connect(_config.revocations_table_name),
    )
