"""Request and response bodies of HTTP API v1 (see ../shared/API.md).

Request models forbid unknown fields (API.md: rejected with 422).
"""
