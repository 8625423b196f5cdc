import RexstoreCore

// What the commands print. The core returns typed values and never builds output; these extensions
// are the one place each value's JSON form is defined (SwiftPM keeps its output types in its Commands
// layer the same way). Stored formats (dossier entries, sidecars, export manifests) are the core's
// own, versioned encodings and do not change when the output does.

extension ObjectInfo {
  var json: JSONValue {
    .record([
      "blob": .string(name), "size_bytes": .int(size), "md5": .optional(md5), "crc32c": .optional(crc32c),
      "content_type": .optional(contentType), "backend": .string(backend),
      "updated_at": updated.map { .string($0.outputForm) } ?? .null,
    ])
  }
}

extension Pattern {
  var json: JSONValue {
    .record([
      "user_id": .int(userID), "type": .string(type), "key": .string(key), "value": value,
      "confidence": confidence.map(JSONValue.double) ?? .null,
      "created_at": Timestamp.outputForm(ofStored: createdAt), "updated_at": Timestamp.outputForm(ofStored: updatedAt),
    ])
  }
}

extension ContextItem {
  var json: JSONValue {
    .record([
      "id": .int(id), "user_id": .int(userID), "key": .string(key), "value": value,
      "session_id": .optional(sessionID), "created_at": Timestamp.outputForm(ofStored: createdAt),
      "expires_at": Timestamp.outputForm(ofStored: expiresAt),
    ])
  }
}

extension Insight {
  var json: JSONValue {
    .record([
      "id": .int(id), "user_id": .int(userID), "type": .string(type), "data": data,
      "importance": .double(importance), "created_at": Timestamp.outputForm(ofStored: createdAt),
    ])
  }
}

extension VoiceProfile {
  var json: JSONValue {
    .record([
      "user_id": .string(userID), "profile_id": .string(profileID), "storage": .string(storage),
      "metadata": metadata, "samples": .array(samples.map(\.json)), "sample_count": .int(samples.count + missing.count),
      "missing_samples": .array(missing.map(JSONValue.string)),
      "total_bytes": .int(totalBytes), "created_at": Timestamp.outputForm(ofStored: createdAt),
      "updated_at": Timestamp.outputForm(ofStored: updatedAt ?? createdAt),
    ])
  }
}

extension Fsck.Finding {
  var json: JSONValue {
    .record([
      "kind": .string(kind), "path": .string(path), "size_bytes": .int(bytes), "action": .string(action),
      "error": error.map { .record(["code": .string($0.code.rawValue), "message": .string($0.message)]) } ?? .null,
    ])
  }
}

extension HealthCheck {
  var json: JSONValue {
    .record([
      "name": .string(name), "status": .string(level.rawValue), "message": .string(URLText.maskingPasswords(in: message)),
      "values": .object(values.map { JSONValue.Member($0.key, $0.value) }),
    ])
  }
}

extension UserData.Inventory {
  var json: JSONValue {
    .record([
      "database": .object(rows.map { JSONValue.Member($0.0, .int($0.1.count)) }),
      "audio": .array(audio.map(\.json)),
      "profiles": .array(profiles.map(\.json)),
      "unreferenced_samples": .array(unreferenced.map(\.json)),
      "dossier": .optional(dossier),
      "item_count": .int(itemCount),
    ])
  }
}

extension SignedURLRequest.Result {
  var json: JSONValue {
    .record([
      "url": .string(url), "method": .string(method), "expires_at": .string(expiresAt.outputForm),
      "headers": .object(headers.map { JSONValue.Member($0.0, .string($0.1)) }),
    ])
  }
}
