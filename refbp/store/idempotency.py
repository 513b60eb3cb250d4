"""Answers kept under an `Idempotency-Key`: a request retried with the same key gets the first
answer back, and the store keeps one run for it, however often and however concurrently it
is retried. The key and its answer are written in the run's own transaction (record_run), so
an answer is kept exactly when its run is."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from .database import Store

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Answered:
    """The first answer given under a key."""

    run_id: str
    request_digest: str  # sha256 of the first request (its query and body)
    answer: str  # the JSON answered


class KeyTaken(Exception):
    """Another request recorded its run under this key first: `answered` is that request's answer."""

    def __init__(self, answered: Answered):
        super().__init__(answered.run_id)
        self.answered = answered


def answered(store: Store, key: str) -> Answered | None:
    """The answer kept under `key`, or None (one primary-key lookup)."""
    table = store.idempotency
    with store.reading() as connection:
        row = connection.execute(
            sa.select(table.c.run_id, table.c.request_digest, table.c.answer).where(table.c.key == key)
        ).first()
    return None if row is None else Answered(row.run_id, row.request_digest, row.answer)
