"""QueryFunction entry point: configuration is read once, at cold start, and fails fast."""

from shared.coldstart import cold_start

with cold_start():
    from services.query.app import make_handler
    from shared.config import QueryConfig, load_config
    from shared.repository import LedgerTable, SummaryTable
    from shared.revocations import Revocations

    _config = load_config(QueryConfig)
    lambda_handler = make_handler(
        _config,
        LedgerTable.connect(_config.ledger_table_name),
        SummaryTable.connect(_config.projection_table_name),
        Revocations.connect(_config.revocations_table_name),
    )
