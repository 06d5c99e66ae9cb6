"""ProjectorFunction entry point: configuration is read once, at cold start, and fails fast."""

from shared.coldstart import cold_start

with cold_start():
    from aws_lambda_powertools import Metrics

    from services.projector.app import make_handler
    from services.projector.store import ProjectionStore
    from shared.clients import dynamodb_client
    from shared.config import ProjectorConfig, load_config

    _config = load_config(ProjectorConfig)
    lambda_handler = make_handler(
        ProjectionStore(dynamodb_client(), _config.projection_table_name),
        Metrics(namespace=_config.metrics_namespace),
    )
