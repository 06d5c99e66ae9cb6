"""The local stack: template.yaml deployed into moto, handlers run as subprocesses, one gateway.

Nothing in this package is deployed to AWS. It exists so that `make dev` runs exactly what
template.yaml tells AWS to run (same handlers, same environment, same routes), on loopback.
"""
