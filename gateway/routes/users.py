"""Routes for users (being built; see the issue that owns it)."""

from fastapi import APIRouter

router = APIRouter()
