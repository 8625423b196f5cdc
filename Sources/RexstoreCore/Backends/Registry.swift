/// The remote backends, one line each. Adding a backend is its folder and a line here.
public enum Backends {
  public static let registered: [BackendRegistration] = [
    GCSBackend.registration,
    S3Backend.registration,
  ]
}
