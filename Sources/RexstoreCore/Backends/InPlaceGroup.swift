import Glibc

/// A group replacement for remotes without an atomic rename (GCS, S3): samples are overwritten in
/// place. To keep "all or nothing", every sample about to be overwritten is first copied to an
/// unlinked spool file (a profile's samples are small); `undo` uploads those copies back, each
/// conditional on the version this store wrote, so a concurrent store's later write is never undone.
protocol InPlaceGroupStore: RemoteObjectStore {
  /// Where copies of overwritten samples wait: the spool directory in the local root, else
  /// `$TMPDIR` (a remote-only host may have no writable root).
  var spoolDirectories: [String] { get }
  /// Deletes exactly `version` of `name`; false when there was none.
  func deleteVersion(_ name: String, _ version: String) throws(RexstoreError) -> Bool
}

extension InPlaceGroupStore {
  func replaceGroupInPlace(directory: String, members: [GroupMember]) throws(RexstoreError) -> any GroupReplacement {
    let existing = try listAll(prefix: directory + "/")
    var backups: [String: (ObjectInfo, ByteSource)] = [:]
    var conditions: [String: WriteCondition] = [:]
    for info in existing where members.contains(where: { $0.name == info.name }) {
      let copy = try backUp(info)
      backups[info.name] = copy
      if let version = copy.0.version ?? info.version { conditions[info.name] = .matches(version) }
    }
    let results = try uploadInParallel(members, conditions: conditions)
    var uploaded: [ObjectInfo] = []
    var firstError: RexstoreError?
    for result in results {
      switch result {
      case .success(let info): uploaded.append(info)
      case .failure(let error): firstError = firstError ?? error
      }
    }
    let replacement = InPlaceGroupReplacement(
      store: self, objects: uploaded, backups: backups,
      stale: existing.filter { old in !members.contains { $0.name == old.name } })
    if let firstError {
      // All or nothing: what did upload is undone before the caller falls back or fails.
      replacement.undo()
      throw firstError
    }
    return replacement
  }

  /// A verified copy of one object in an unlinked spool file, and its metadata (with the version read).
  private func backUp(_ info: ObjectInfo) throws(RexstoreError) -> (ObjectInfo, ByteSource) {
    var fd: Int32 = -1
    var path = ""
    for directory in spoolDirectories where fd < 0 {
      guard (try? FileSystem.makeDirectories(directory)) != nil else { continue }
      path = directory + "/" + FileSystem.temporaryName(for: "backup")
      fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
    }
    guard fd >= 0 else { throw systemError("cannot create", path: path).asCannotCreate }
    unlink(path)
    let copy = ByteSource(fd: fd, name: info.name, owned: true)
    guard var read = try get(info.name, into: DescriptorSink(fd: fd, name: path)) else {
      throw RexstoreError(.conflict, "'\(info.name)' disappeared during the store; nothing changed")
    }
    read.contentType = read.contentType ?? info.contentType
    guard copy.rewind() else { throw RexstoreError(.ioError, "cannot reread the copy of '\(info.name)'") }
    return (read, copy)
  }

  /// Uploads each member on one of at most `batchWidth` stores, each with its own connection.
  private func uploadInParallel(
    _ members: [GroupMember], conditions: [String: WriteCondition]
  ) throws(RexstoreError) -> [Result<ObjectInfo, RexstoreError>] {
    let width = max(1, min(batchWidth, members.count))
    var stores: [any RemoteObjectStore] = [self]
    for _ in 1..<width {
      guard let store = try worker() as? any RemoteObjectStore else { break }
      stores.append(store)
    }
    return Threads.map(members.count, workers: stores) { store, index in
      let member = members[index]
      do throws(RexstoreError) {
        return .success(
          try store.put(
            member.name, from: member.source, contentType: member.contentType,
            condition: conditions[member.name] ?? .absent))
      } catch {
        return .failure(error)
      }
    }
  }
}

/// The uploaded set of a profile store: `finish` removes old samples the new set lacks; `undo` puts
/// back the samples it overwrote (from their spooled copies) and removes the ones it added.
final class InPlaceGroupReplacement: GroupReplacement {
  let store: any InPlaceGroupStore
  let objects: [ObjectInfo]
  let backups: [String: (ObjectInfo, ByteSource)]
  let stale: [ObjectInfo]

  init(store: any InPlaceGroupStore, objects: [ObjectInfo], backups: [String: (ObjectInfo, ByteSource)], stale: [ObjectInfo]) {
    self.store = store
    self.objects = objects
    self.backups = backups
    self.stale = stale
  }

  func finish() {
    for info in stale {
      if let version = info.version { _ = try? store.deleteVersion(info.name, version) }
    }
  }

  func undo() {
    for info in objects {
      guard let version = info.version else { continue }
      if let (old, copy) = backups[info.name] {
        // Conditional on the version this store wrote: a later writer's object stays.
        _ = try? store.put(info.name, from: copy, contentType: old.contentType ?? "audio/wav", condition: .matches(version))
      } else {
        _ = try? store.deleteVersion(info.name, version)
      }
    }
  }
}
