import Glibc

/// Maps an `errno` from a file operation to the error a user can act on.
func systemError(_ operation: String, path: String, errno err: Int32 = errno) -> RexstoreError {
  let reason = String(cString: strerror(err))
  switch err {
  case EACCES, EPERM, EROFS:
    return RexstoreError(.permissionDenied, "\(operation) '\(path)': \(reason)")
  case ENOENT, ENOTDIR:
    return RexstoreError(.noInput, "\(operation) '\(path)': \(reason)")
  default:
    return RexstoreError(.ioError, "\(operation) '\(path)': \(reason)")
  }
}

/// The same for a path given as bytes: the message shows its display form (`\xHH` for bad bytes).
func systemError(_ operation: String, path: FilePathBytes, errno err: Int32 = errno) -> RexstoreError {
  systemError(operation, path: path.display, errno: err)
}

extension RexstoreError {
  /// Failing to create an output file is exit 73 unless it was a permission problem.
  var asCannotCreate: RexstoreError {
    code == .permissionDenied ? self : RexstoreError(.cannotCreate, message, hint: hint)
  }
}
