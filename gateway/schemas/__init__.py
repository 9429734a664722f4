"""Request and response bodies of HTTP API v1 (reference: docs/api.md).

Request models forbid unknown fields (docs/api.md: rejected with 422).
"""
