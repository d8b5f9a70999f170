"""Combination rules evaluated from the database, for ingestion workers that share a subscription.

With an MQTT 5 shared subscription (``$share/{group}/twin/{site}/+/+``) the broker hands each
message to one worker of the group (Mosquitto: round robin, message by message), so the two
devices of a combination rule (smoke + temperature rise in one space) often land on
different workers, whose in-memory rule tracks each see half of the picture.

:class:`SharedCombos` keeps the tracks of the rules that combination rules are made of
(``all_of`` / ``count`` members) in the database every worker writes to:

- ``live_rule_tracks``: per member rule and device (``{site}/{device id}``), since when it is active (NULL: not
  active) and when it was last true, with the device's space and storey scopes;
- ``live_combo_claims``: one row per combination alarm episode (``{rule}:{scope}:{id}``);
  inserting it is the claim: of two workers that see a combination complete at the same
  moment, exactly one inserts the row and raises the alarm. The row is deleted when no
  member of the combination is active any more (the episode ended).

Why none is lost: each worker commits its track before it reads the others, so of two
workers writing the two halves at the same time, the later reader sees both (read
committed). :meth:`live.rules.RuleEngine.tick` re-evaluates recent scopes once a second
from the database as well.

Writes happen only when a member rule's track changes (an active reading, or the first
inactive one after it); ordinary readings never touch these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

from live.store import combo_claims, rule_tracks

__all__ = ["SharedCombos", "rule_tracks", "combo_claims"]

class SharedCombos:
    """Member-rule tracks and combination claims of one site in a shared database.

    Scopes and claim keys are stored prefixed with the site (``{site}/space:{id}``), so the
    communities of one database never mix places.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The database every worker of the group writes to (tables from the migrations).
    worker : str
        This worker's name (stored with its claims, for operators).
    site : str
        The site (MQTT topic segment) whose rules this evaluates.
    """

    def __init__(self, engine: sa.Engine, worker: str, site: str = "") -> None:
        self.engine = engine
        self.worker = worker[:128]
        self.prefix = f"{site}/"
        self.writes = 0
        self.claims_won = 0
        self.claims_lost = 0

    def scope_text(self, scope: tuple[str, str] | None) -> str | None:
        """``{site}/{kind}:{id}`` of a place (None for none)."""
        return f"{self.prefix}{scope[0]}:{scope[1]}"[:160] if scope else None

    def parse_scope(self, text: str | None) -> tuple[str, str] | None:
        """Inverse of :meth:`scope_text` (None for another site's or a malformed text)."""
        if not text or not text.startswith(self.prefix):
            return None
        kind, sep, ident = text[len(self.prefix):].partition(":")
        return (kind, ident) if sep else None

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"[:256]

    def _insert(self, table: sa.Table):
        """The dialect's INSERT (PostgreSQL and SQLite both have ON CONFLICT)."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def write_track(self, rule_id: str, device_id: str, scopes: tuple, since: float | None,
                    last_true: float | None) -> None:
        """Upsert a member rule's track of a device (committed before this returns).

        ``scopes``: the device's ``(scope_of(st, "space"), scope_of(st, "storey"))``.
        """
        row = {"rule_id": rule_id, "device_id": f"{self.prefix}{device_id}"[:256], "space_scope": self.scope_text(scopes[0]),
               "storey_scope": self.scope_text(scopes[1]), "since": since, "last_true": last_true}
        stmt = self._insert(rule_tracks).values(**row)
        stmt = stmt.on_conflict_do_update(index_elements=["rule_id", "device_id"],
                                          set_={k: stmt.excluded[k] for k in ("space_scope", "storey_scope",
                                                                               "since", "last_true")})
        with self.engine.begin() as conn:
            conn.execute(stmt)
        self.writes += 1

    def member_count(self, rule_id: str, level: str, scope: tuple[str, str], t: float, window_s: float) -> int:
        """Devices of ``scope`` whose rule ``rule_id`` is active, or was within ``window_s`` of ``t``."""
        col = rule_tracks.c.space_scope if level == "space" else rule_tracks.c.storey_scope
        q = (sa.select(sa.func.count()).select_from(rule_tracks)
             .where(rule_tracks.c.rule_id == rule_id, col == self.scope_text(scope),
                    rule_tracks.c.last_true.is_not(None),
                    sa.or_(rule_tracks.c.since.is_not(None), rule_tracks.c.last_true >= t - window_s)))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def claim(self, key: str, at: float) -> bool:
        """Claim the combination alarm ``key``; True for exactly one caller per episode."""
        stmt = self._insert(combo_claims).values(key=self._key(key), raised_at=at, worker=self.worker)
        with self.engine.begin() as conn:
            won = conn.execute(stmt.on_conflict_do_nothing().returning(combo_claims.c.key)).first() is not None
        if won:
            self.claims_won += 1
        else:
            self.claims_lost += 1
        return won

    def release(self, key: str) -> None:
        """End the episode of ``key`` (no member active): the next completion raises again."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(combo_claims).where(combo_claims.c.key == self._key(key)))

    def claimed(self) -> list[str]:
        """Keys (without the site) of this site's combination episodes claimed now, by any worker."""
        q = sa.select(combo_claims.c.key).where(combo_claims.c.key.startswith(self.prefix, autoescape=True))
        with self.engine.connect() as conn:
            return [k[len(self.prefix):] for k in conn.execute(q).scalars()]

    def active(self) -> set[tuple[str, str]]:
        """(rule id, device id) of this site's member tracks active now, on any worker."""
        n = len(self.prefix)
        q = sa.select(rule_tracks.c.rule_id, rule_tracks.c.device_id).where(
            rule_tracks.c.since.is_not(None), rule_tracks.c.device_id.startswith(self.prefix, autoescape=True))
        with self.engine.connect() as conn:
            return {(r, d[n:]) for r, d in conn.execute(q)}

    def recent(self, since_t: float) -> list[tuple[tuple[str, str] | None, tuple[str, str] | None]]:
        """(space scope, storey scope) of this site's devices with a member rule true after ``since_t``."""
        q = (sa.select(rule_tracks.c.space_scope, rule_tracks.c.storey_scope).distinct()
             .where(sa.or_(rule_tracks.c.since.is_not(None), rule_tracks.c.last_true >= since_t),
                    rule_tracks.c.storey_scope.startswith(self.prefix, autoescape=True)))
        with self.engine.connect() as conn:
            return [(self.parse_scope(a), self.parse_scope(b)) for a, b in conn.execute(q)]
