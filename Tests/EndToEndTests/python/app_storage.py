"""The Python app's pattern storage, re-written from its documented behaviour
(../shared/reference/python-original-behaviour.md §2) with only sqlite3 and json.

Used by the end-to-end tests to prove that rexstore and the app share one database file both ways.
"""
import json
import sqlite3
from datetime import UTC, datetime, timedelta

DDL = """
CREATE TABLE IF NOT EXISTS user_patterns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    pattern_type TEXT NOT NULL,
    pattern_key TEXT NOT NULL,
    pattern_value TEXT NOT NULL,
    confidence REAL DEFAULT 1.0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users(id),
    UNIQUE(user_id, pattern_type, pattern_key)
);
CREATE TABLE IF NOT EXISTS conversation_context (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    context_key TEXT NOT NULL,
    context_value TEXT NOT NULL,
    session_id TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users(id)
);
CREATE TABLE IF NOT EXISTS user_insights (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    insight_type TEXT NOT NULL,
    insight_data TEXT NOT NULL,
    importance REAL DEFAULT 0.5,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users(id)
);
CREATE INDEX IF NOT EXISTS idx_user_patterns_user_type ON user_patterns(user_id, pattern_type);
CREATE INDEX IF NOT EXISTS idx_conversation_context_user ON conversation_context(user_id, session_id);
CREATE INDEX IF NOT EXISTS idx_user_insights_user ON user_insights(user_id, insight_type);
"""


def _now():
    return datetime.now(UTC).isoformat()


def _decode(text):
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


class PatternStorage:
    def __init__(self, db_path):
        self.db_path = db_path
        with sqlite3.connect(db_path) as conn:
            conn.executescript(DDL)

    def save_pattern(self, user_id, pattern_type, pattern_key, pattern_value, confidence=1.0):
        value = pattern_value if isinstance(pattern_value, str) else json.dumps(pattern_value)
        with sqlite3.connect(self.db_path) as conn:
            conn.execute(
                "INSERT INTO user_patterns (user_id, pattern_type, pattern_key, pattern_value, confidence, updated_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(user_id, pattern_type, pattern_key) DO UPDATE SET "
                "pattern_value=excluded.pattern_value, confidence=excluded.confidence, updated_at=excluded.updated_at",
                (user_id, pattern_type, pattern_key, value, confidence, _now()))

    def get_pattern(self, user_id, pattern_type, pattern_key, default=None):
        with sqlite3.connect(self.db_path) as conn:
            row = conn.execute(
                "SELECT pattern_value FROM user_patterns WHERE user_id=? AND pattern_type=? AND pattern_key=?",
                (user_id, pattern_type, pattern_key)).fetchone()
        return _decode(row[0]) if row else default

    def get_patterns_by_type(self, user_id, pattern_type):
        with sqlite3.connect(self.db_path) as conn:
            rows = conn.execute(
                "SELECT pattern_key, pattern_value, confidence FROM user_patterns "
                "WHERE user_id=? AND pattern_type=? ORDER BY updated_at DESC", (user_id, pattern_type)).fetchall()
        return {k: {"value": _decode(v), "confidence": c} for k, v, c in rows}

    def save_context(self, user_id, context_key, context_value, session_id=None, expires_minutes=None):
        value = context_value if isinstance(context_value, str) else json.dumps(context_value)
        expires = (datetime.now(UTC) + timedelta(minutes=expires_minutes)).isoformat() if expires_minutes else None
        with sqlite3.connect(self.db_path) as conn:
            conn.execute(
                "INSERT INTO conversation_context (user_id, context_key, context_value, session_id, created_at, expires_at) "
                "VALUES (?,?,?,?,?,?)", (user_id, context_key, value, session_id, _now(), expires))

    def get_context(self, user_id, context_key, session_id=None):
        with sqlite3.connect(self.db_path) as conn:
            conn.execute("DELETE FROM conversation_context WHERE expires_at IS NOT NULL AND expires_at < ?", (_now(),))
            if session_id:
                rows = conn.execute(
                    "SELECT context_value FROM conversation_context WHERE user_id=? AND context_key=? AND session_id=? "
                    "ORDER BY created_at DESC", (user_id, context_key, session_id)).fetchall()
            else:
                rows = conn.execute(
                    "SELECT context_value FROM conversation_context WHERE user_id=? AND context_key=? "
                    "ORDER BY created_at DESC", (user_id, context_key)).fetchall()
        return [_decode(r[0]) for r in rows]

    def save_insight(self, user_id, insight_type, insight_data, importance=0.5):
        with sqlite3.connect(self.db_path) as conn:
            conn.execute(
                "INSERT INTO user_insights (user_id, insight_type, insight_data, importance, created_at) VALUES (?,?,?,?,?)",
                (user_id, insight_type, json.dumps(insight_data), importance, _now()))

    def get_insights(self, user_id, insight_type=None, min_importance=0.0, limit=50):
        with sqlite3.connect(self.db_path) as conn:
            if insight_type:
                rows = conn.execute(
                    "SELECT insight_type, insight_data, importance, created_at FROM user_insights "
                    "WHERE user_id=? AND insight_type=? AND importance >= ? ORDER BY created_at DESC LIMIT ?",
                    (user_id, insight_type, min_importance, limit)).fetchall()
            else:
                rows = conn.execute(
                    "SELECT insight_type, insight_data, importance, created_at FROM user_insights "
                    "WHERE user_id=? AND importance >= ? ORDER BY created_at DESC LIMIT ?",
                    (user_id, min_importance, limit)).fetchall()
        return [{"type": t, "data": json.loads(d), "importance": i, "created_at": c} for t, d, i, c in rows]


def downgrade(db_path):
    """The app's migration 001 `downgrade`: drops its three tables, insights first (reference §2)."""
    with sqlite3.connect(db_path) as conn:
        for table in ("user_insights", "conversation_context", "user_patterns"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def migration_status(db_path):
    """The app's migration 001 `status`: {table: exists} for its three tables."""
    with sqlite3.connect(db_path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {t: t in names for t in ("user_patterns", "conversation_context", "user_insights")}
