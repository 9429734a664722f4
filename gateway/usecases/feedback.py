"""Feedback: what the user did with a suggestion, fed back into their history.

A ``sent`` or ``edited`` smart reply becomes a ``sent_reply`` history item (the
incoming message as its context), so the next suggestions learn from it. An
``opened``/``clicked`` subject line becomes ``subject_opened``. Re-sending the
same event for the same suggestion changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.core.errors import BadInput, Conflict, NotFound
from gateway.schemas.feedback import FeedbackAccepted, FeedbackIn
from gateway.schemas.history import HistoryItemIn
from gateway.services import Services
from gateway.tables import Feedback, Generation
from gateway.usecases.retention import feedback_open

_TO_HISTORY = {
    ("smart_reply", "sent"): "sent_reply",
    ("smart_reply", "edited"): "sent_reply",
    ("subject_line", "opened"): "subject_opened",
    ("subject_line", "clicked"): "subject_opened",
}


def record_feedback(*, services: Services, tenant_id: int, feedback: FeedbackIn,
                    tenant: str | None = None) -> FeedbackAccepted:
    """``tenant`` (the name) labels the selection-rate drift signal."""
    with services.db.session() as s:
        gen = s.scalar(select(Generation).where(Generation.request_id == feedback.request_id,
                                                Generation.tenant_id == tenant_id))
    if gen is not None and gen.user_id:  # sealed with the user's data key
        gen.input_text = services.keys.open_text(tenant_id, gen.user_id, gen.input_text)
        gen.outputs = services.keys.open_json(tenant_id, gen.user_id, gen.outputs)
    if gen is None:
        raise NotFound(f"request_id {feedback.request_id!r} is unknown for this tenant; send the "
                       "request_id of a smart-replies or subject-lines response", field="request_id")
    if not feedback_open(services, gen.created_at):
        raise BadInput(f"request_id: request {feedback.request_id} was served more than "
                       f"{services.settings.feedback_window_days} days ago; feedback is "
                       "accepted within PERSONA_FEEDBACK_WINDOW_DAYS of the response",
                       field="request_id")
    if feedback.index >= len(gen.outputs):
        raise BadInput(f"index: request {feedback.request_id} served {len(gen.outputs)} "
                       f"suggestion(s); index must be below that", field="index")
    if feedback.event == "edited" and not (feedback.final_text or "").strip():
        raise BadInput("final_text: an 'edited' event needs the text the user actually sent",
                       field="final_text")

    kind = _TO_HISTORY.get((gen.task, feedback.event))
    history_id = None
    if kind and gen.user_id:
        text = ((feedback.final_text or "").strip()
                or _edited_text(services, tenant_id, gen.user_id, feedback)
                or gen.outputs[feedback.index])
        history_id = f"fb-{feedback.request_id}-{feedback.index}"
        item = HistoryItemIn(id=history_id, kind=kind, text=text,
                             context=(gen.input_text or None) if kind == "sent_reply" else None)
        try:
            services.history.add(tenant_id, gen.user_id, [item.to_item()])
            services.reply_cache.bump(tenant_id, gen.user_id)
        except Conflict:
            # A different final text for the same suggestion arrived earlier: history
            # items are immutable, the first one stands; the event is still recorded.
            pass

    final_text = feedback.final_text
    if gen.user_id and final_text is not None:
        final_text = services.keys.writer(tenant_id, gen.user_id).seal_text(final_text)
    try:
        with services.db.session() as s:
            s.add(Feedback(tenant_id=tenant_id, user_id=gen.user_id, request_id=feedback.request_id,
                           index=feedback.index, event=feedback.event, final_text=final_text))
    except IntegrityError:
        pass  # the same event for the same suggestion was recorded before: idempotent
    if services.drift is not None:
        services.drift.observe_feedback(tenant or str(tenant_id), gen.task, feedback.request_id,
                                        feedback.event)
    return FeedbackAccepted(accepted=True, history_id=history_id)


def _edited_text(services: Services, tenant_id: int, user_id: str,
                 feedback: FeedbackIn) -> str | None:
    """The text of an earlier 'edited' event for this suggestion: a 'sent' that follows
    an edit without repeating the text sent the edited version, not the suggestion."""
    with services.db.session() as s:
        text = s.scalar(select(Feedback.final_text).where(
            Feedback.tenant_id == tenant_id, Feedback.request_id == feedback.request_id,
            Feedback.index == feedback.index, Feedback.event == "edited"))
    return services.keys.open_text(tenant_id, user_id, text)
