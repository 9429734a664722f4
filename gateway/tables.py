"""Gateway-owned tables: tenants, API keys, user preferences, generations, feedback,
experiments (with their assignments and exposures), kill switches and campaigns (with
their per-recipient rows).

Per-user texts (``signature``, ``input_text``, ``outputs``, ``final_text``, an
explanation's ``data``) are stored sealed with the user's data key
(``gateway.core.crypto``); rows without a user id stay plain (nobody to forget).

History items live in ``embeddings.store`` (the personalization store owns them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import BIG_ID, Base, utcnow


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class UserPreferences(Base):
    __tablename__ = "user_preferences"
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    personalization: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(16), default="en")
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Generation(Base):
    """What was served for a request: lets feedback refer back by request_id + index.

    Keyed per tenant by the gateway's own ``request_id`` (a uuid4 it generates for every
    generation); the client's ``X-Request-ID`` is only kept as ``correlation_id``, so no
    tenant can name, overwrite or read another tenant's record."""

    __tablename__ = "generations"
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    correlation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    task: Mapped[str] = mapped_column(String(32))
    input_text: Mapped[str] = mapped_column(Text, default="")
    outputs: Mapped[list] = mapped_column(JSON, default=list)
    model: Mapped[str | None] = mapped_column(String(128), nullable=True)
    prompt_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("tenant_id", "request_id", "index", "event",
                                       name="uq_feedback_tenant_event"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    index: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(16))
    final_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Explanation(Base):
    """Why a generation was served as it was (``gateway.usecases.explain``): history
    used, style, every candidate with scores and checks, stage timings. Keyed like its
    generation; removed with it by forget and by retention. ``input_hash`` is the
    SHA-256 of the incoming text (kept even when the text itself is not)."""

    __tablename__ = "explanations"
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    task: Mapped[str] = mapped_column(String(32))
    input_hash: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 index=True)


class Experiment(Base):
    """A tenant's experiment on one task: variants (named policy overrides), the share of
    new users each treatment gets (``allocation``, basis points; control takes the rest)
    and the log of allocation changes (``epochs``), which the SRM check stratifies by."""

    __tablename__ = "experiments"
    _RUNNING = text("status = 'running'")
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_experiment_tenant_name"),
                      # At most one running experiment per tenant and task, enforced by the
                      # database: two racing starts cannot both win (either engine).
                      Index("uq_experiment_running_task", "tenant_id", "task", unique=True,
                            sqlite_where=_RUNNING, postgresql_where=_RUNNING))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")
    salt: Mapped[str] = mapped_column(String(32))
    variants: Mapped[list] = mapped_column(JSON, default=list)
    allocation: Mapped[dict] = mapped_column(JSON, default=dict)
    rolled_back: Mapped[list] = mapped_column(JSON, default=list)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    epochs: Mapped[list] = mapped_column(JSON, default=list)
    min_detectable_lift: Mapped[float] = mapped_column(Float, default=0.1)
    baseline_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    alpha: Mapped[float] = mapped_column(Float, default=0.05)
    power: Mapped[float] = mapped_column(Float, default=0.8)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ExperimentAssignment(Base):
    """A user's variant, written at their first exposure and never moved afterwards."""

    __tablename__ = "experiment_assignments"
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    variant: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Exposure(Base):
    """One response served under an experiment: ``variant`` is what it was served under,
    ``assigned`` the user's assignment (None for a request without a user id, and
    different from ``variant`` while the assigned variant is rolled back)."""

    __tablename__ = "experiment_exposures"
    __table_args__ = (Index("ix_exposure_experiment", "experiment_id", "variant"),
                      Index("ix_exposure_user", "tenant_id", "user_id"))
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    variant: Mapped[str] = mapped_column(String(64))
    assigned: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KillSwitch(Base):
    """A task switched to rules only for a tenant (no model call, no experiment)."""

    __tablename__ = "kill_switches"
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    task: Mapped[str] = mapped_column(String(32), primary_key=True)
    rules_only: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SealPending(Base):
    """A table an upgrade left holding plaintext; ``gateway.storage.seal_plaintext``
    seals its rows at the next start and deletes the name (migration 0002_user_keys)."""

    __tablename__ = "seal_pending"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
class CampaignJob(Base):
    """A campaign's subject-line job: the request fields every recipient shares
    (``spec``), the experiment it splits by and who runs it (``local``: the gateway's
    process; ``queue``: ``persona worker`` over Redis). Progress is counted from its rows;
    ``forgotten`` counts the rows forget removed (aggregates keep only counts)."""

    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    spec: Mapped[dict] = mapped_column(JSON, default=dict)
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="SET NULL"), nullable=True)
    experiment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    runner: Mapped[str] = mapped_column(String(16), default="local")
    total: Mapped[int] = mapped_column(Integer, default=0)
    forgotten: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CampaignRow(Base):
    """One recipient of a campaign. Made ``pending``; written once when it finishes
    (``done`` with its ``result``, or ``failed`` with its ``error``), by whichever runner
    finishes it first: an update that finds it no longer pending changes nothing."""

    __tablename__ = "campaign_rows"
    __table_args__ = (Index("ix_campaign_rows_user", "tenant_id", "user_id"),
                      Index("ix_campaign_rows_status", "campaign_id", "status"))
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
