"""Code shared by every SCC Payments function: models, money, keys, config, auth, adapters.

Dependencies point one way: services import this package; it never imports a service.
"""
