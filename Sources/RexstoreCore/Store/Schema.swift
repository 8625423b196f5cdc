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

/// What a shared table must look like for rexstore to read and write it: the app's DDL
/// (python-original-behaviour.md §2), checked with `PRAGMA table_info` before first use.
///
/// Every column the app declares must be there with its declared type; the upsert also needs the
/// `UNIQUE(user_id, pattern_type, pattern_key)` index. Extra columns are tolerated when they cannot
/// break an insert (nullable or with a default), so a later app version that adds a column keeps
/// working. Anything else is a foreign schema: `schema_mismatch` (78), naming the table and columns.
public struct TableShape: Sendable {
  /// A column as the app declares it.
  public struct Column: Sendable {
    public var name: String
    public var type: String
    init(_ name: String, _ type: String) {
      self.name = name
      self.type = type
    }
  }

  public var name: String
  /// Columns with their declared types, in the app's order.
  public var columns: [Column]
  /// Columns of a UNIQUE index the table must have, if any.
  public var unique: [String]?

  // Plain structs, not tuples or dictionaries: every point read checks its table, and each generic
  // type such as [String: (String, Bool)] costs a run-time metadata instantiation at start-up.
  public static let app: [TableShape] = [
    TableShape(
      name: "user_patterns",
      columns: [
        Column("id", "INTEGER"), Column("user_id", "INTEGER"), Column("pattern_type", "TEXT"),
        Column("pattern_key", "TEXT"), Column("pattern_value", "TEXT"), Column("confidence", "REAL"),
        Column("created_at", "TIMESTAMP"), Column("updated_at", "TIMESTAMP"),
      ],
      unique: ["user_id", "pattern_type", "pattern_key"]),
    TableShape(
      name: "conversation_context",
      columns: [
        Column("id", "INTEGER"), Column("user_id", "INTEGER"), Column("context_key", "TEXT"),
        Column("context_value", "TEXT"), Column("session_id", "TEXT"), Column("created_at", "TIMESTAMP"),
        Column("expires_at", "TIMESTAMP"),
      ],
      unique: nil),
    TableShape(
      name: "user_insights",
      columns: [
        Column("id", "INTEGER"), Column("user_id", "INTEGER"), Column("insight_type", "TEXT"),
        Column("insight_data", "TEXT"), Column("importance", "REAL"), Column("created_at", "TIMESTAMP"),
      ],
      unique: nil),
  ]

  public static func named(_ name: String) -> TableShape? { app.first { $0.name == name } }

  /// The problem text of a table that does not exist.
  public static let missing = "missing table"

  /// A column as `PRAGMA table_info` reports it.
  private struct Found {
    var name: String
    /// The name lowercased: SQLite compares column names case-insensitively.
    var key: String
    var type: String
    /// NOT NULL without a default, and not the primary key: an insert that leaves it out fails.
    var required: Bool
  }

  /// nil when the table is usable; otherwise what is wrong, for a person ("missing table", "missing
  /// column(s) pattern_key; column user_id is TEXT, expected INTEGER").
  func problem(in db: Database) throws(DatabaseError) -> String? {
    let info = try db.prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)")
    info.bind(.text(name))
    var found: [Found] = []
    while try info.step() {
      let column = info.text(0)
      found.append(
        Found(
          name: column, key: column.lowercased(), type: info.text(1),
          required: info.int(2) != 0 && info.isNull(3) && info.int(4) == 0))
    }
    if found.isEmpty { return TableShape.missing }
    func lookup(_ key: String) -> Found? { found.first { $0.key == key } }
    var problems: [String] = []
    let missing = columns.filter { lookup($0.name) == nil }.map(\.name)
    if !missing.isEmpty { problems.append("missing column(s) " + missing.joined(separator: ", ")) }
    for column in columns {
      if let actual = lookup(column.name), actual.type.uppercased() != column.type {
        problems.append("column \(column.name) is \(actual.type.isEmpty ? "untyped" : actual.type), expected \(column.type)")
      }
    }
    let blocking = found.filter { extra in extra.required && !columns.contains { $0.name == extra.key } }.map(\.name)
    if !blocking.isEmpty {
      problems.append("extra NOT NULL column(s) without a default: " + blocking.joined(separator: ", "))
    }
    if let unique, missing.isEmpty, try !hasUniqueIndex(unique, in: db) {
      problems.append("no UNIQUE(" + unique.joined(separator: ", ") + ") constraint")
    }
    return problems.isEmpty ? nil : problems.joined(separator: "; ")
  }

  private func hasUniqueIndex(_ wanted: [String], in db: Database) throws(DatabaseError) -> Bool {
    let indexes = try db.prepare("SELECT name FROM pragma_index_list(?) WHERE \"unique\" = 1")
    indexes.bind(.text(name))
    var names: [String] = []
    while try indexes.step() { names.append(indexes.text(0)) }
    for index in names {
      let columns = try db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
      columns.bind(.text(index))
      var got: [String] = []
      while try columns.step() { got.append(columns.text(0).lowercased()) }
      // The same columns in any order (`wanted` has no duplicates).
      if got.count == wanted.count, got.sorted() == wanted.sorted() { return true }
    }
    return false
  }
}
