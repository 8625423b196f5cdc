/// The settings every remote backend's requests share: tries, back-off, stall timeout, deadline.
/// Declared once; each backend turns them into its client's retry policy and timeouts.
public enum RemoteTransport {
  public static let settings: [SettingSpec] = [
    SettingSpec(
      "retries", placeholder: "N", variables: ["REXSTORE_RETRIES", "REXSTORE_GCS_RETRIES"], fileAliases: ["gcs_retries"],
      kind: .count(1...100), defaultValue: "5", help: "tries per remote request, the first included"),
    SettingSpec(
      "retry_delay", placeholder: "DUR", variables: ["REXSTORE_RETRY_DELAY", "REXSTORE_GCS_RETRY_DELAY"],
      fileAliases: ["gcs_retry_delay"], kind: .duration, defaultValue: "500ms",
      help: "the first retry's wait (doubling, with full jitter, at most 16s)"),
    SettingSpec(
      "timeout", placeholder: "DUR", variables: ["REXSTORE_TIMEOUT", "REXSTORE_GCS_TIMEOUT"], fileAliases: ["gcs_timeout"],
      kind: .duration, defaultValue: "60s", help: "how long a remote transfer may stall"),
    SettingSpec(
      "deadline", placeholder: "DUR", variables: ["REXSTORE_DEADLINE", "REXSTORE_GCS_DEADLINE"],
      fileAliases: ["gcs_deadline"], kind: .duration, defaultValue: "2m",
      help: "the most one remote request may take in all, plus one second per 64 KiB of body it moves; the probe of health gets at most 10s"),
  ]

  public static func retry(_ values: SettingValues) -> RetryPolicy {
    let delay = values.milliseconds("retry_delay") ?? 500
    return RetryPolicy(
      attempts: values.count("retries") ?? 5, baseDelayMilliseconds: delay, maxDelayMilliseconds: max(delay, 16_000))
  }

  public static func timeouts(_ values: SettingValues) -> HTTPTimeouts {
    let timeout = max(1, (values.milliseconds("timeout") ?? 60_000) / 1000)
    return HTTPTimeouts(
      connectMilliseconds: min(10_000, timeout * 1000), stallSeconds: timeout,
      deadlineMilliseconds: max(1, values.milliseconds("deadline") ?? 120_000))
  }

  /// Inside an outage window one attempt; a monitoring probe answers within seconds (two tries, at
  /// most 10 s per request).
  public static func adjust(_ retry: inout RetryPolicy, _ timeouts: inout HTTPTimeouts, for purpose: BackendContext.Purpose) {
    switch purpose {
    case .normal: break
    case .singleAttempt: retry.attempts = 1
    case .probe:
      retry.attempts = min(retry.attempts, 2)
      timeouts = HTTPTimeouts(
        connectMilliseconds: 3_000, stallSeconds: 5, deadlineMilliseconds: min(10_000, timeouts.deadlineMilliseconds))
      retry.deadlineMilliseconds = min(retry.deadlineMilliseconds, 10_000)
    }
  }
}

extension SettingValues {
  /// A setting a backend shares with others under one flag (`--bucket`) but reads from its own
  /// variable (`GCS_BUCKET_NAME`): the flag, then the variable, then the config file's shared key.
  public func layered(_ shared: String, _ own: String) -> ResolvedSetting? {
    if let given = values[shared], given.source.hasPrefix("flag:") { return given }
    return values[own] ?? values[shared]
  }
}
