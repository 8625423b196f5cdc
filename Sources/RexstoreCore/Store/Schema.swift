/// The database schema: the Python app's three tables exactly as it creates them, plus rexstore's own.
///
/// The app's DDL is kept byte for byte (`CREATE TABLE IF NOT EXISTS`), so either program may create the
/// file first and both keep working on it.
public enum Schema {
  public struct Migration: Sendable {
    public var version: Int
    public var summary: String
    public var sql: String
  }

  /// The app's tables and indexes (`pattern_storage_schema.py`), unchanged.
  static let appTables = """
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

  public static let migrations: [Migration] = [
    Migration(
      version: 1,
      summary: "app tables; rexstore_meta; voice_profiles",
      sql: appTables + """
        CREATE TABLE IF NOT EXISTS rexstore_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS voice_profiles (
            user_id TEXT NOT NULL,
            profile_id TEXT NOT NULL,
            storage TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            samples TEXT NOT NULL DEFAULT '[]',
            sample_count INTEGER NOT NULL DEFAULT 0,
            total_bytes INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, profile_id)
        );
        """),
  ]

  public static var currentVersion: Int { migrations.last!.version }

  /// Tables `db status` reports, app tables first.
  public static let tables = [
    "user_patterns", "conversation_context", "user_insights", "voice_profiles", "rexstore_meta",
  ]
}
