"""Shared harness for bulwark's integration tests (Python 3 standard library only).

What it gives a test:

* free loopback ports, and processes started on them: `Origin` (bulwark-origin) and `Gateway`
  (bulwark serve), each in its own temporary directory with stdout/stderr in files, waited for
  until their ports accept connections, and always stopped by PID (terminate, wait, kill);
* `yaml_dump` and `gateway_config` to write a config;
* `RawClient`: a socket that sends exact bytes and reads exact responses (Content-Length,
  chunked, close-delimited, interim 1xx), to test framing and smuggling;
* `FakeUpstream`: a threaded socket server with a per-connection handler, for upstreams the
  origin cannot imitate (silent, garbage, closing mid-response), that records the bytes it got;
* small HTTP helpers (`http_request`, `get_json`, `metrics`, `access_log_records`), and
  `concurrent_requests` to make many identical requests overlap.

Tests from different files run in parallel (ctest -j): nothing here uses a fixed port, a
shared file, or kills a process it did not start.
"""

import atexit
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

BULWARK_BIN = os.environ.get("BULWARK_BIN", os.path.join(REPO, "build", "bulwark"))
ORIGIN_BIN = os.environ.get(
    "ORIGIN_BIN", os.path.join(REPO, "build", "examples", "origin", "bulwark-origin"))

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

# ---------------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------------

_handed_out = set()
_handed_out_lock = threading.Lock()


def free_port():
    """A loopback port that was free a moment ago (bind port 0, read it, close)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        with _handed_out_lock:
            if port in _handed_out:
                continue
            _handed_out.add(port)
        return port
    raise RuntimeError("could not find a free port")


class PortReservation:
    """Holds a port (bound, not listening, SO_REUSEPORT) so that no other process picks it
    while bulwark, which binds with SO_REUSEPORT too, starts on it. A connect to it is refused."""

    def __init__(self, reuseport=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if reuseport:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.sock.bind((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]

    def release(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Calls `predicate` until it returns something true or `timeout` passes; returns its last
    value (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def port_open(port, host=LOOPBACK, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


_started = []  # every Process this interpreter started, stopped at exit if still running
_started_lock = threading.Lock()


def _stop_leftovers():
    with _started_lock:
        leftovers = list(_started)
    for process in leftovers:
        try:
            process.stop(timeout=2)
        except Exception:
            pass


atexit.register(_stop_leftovers)


class Process:
    """A child process with stdout/stderr in files; stop() is safe to call many times."""

    def __init__(self, args, workdir, name):
        self.args = list(args)
        self.name = name
        self.stdout_path = os.path.join(workdir, name + ".stdout")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, cwd=workdir)
        self.pid = self.proc.pid
        with _started_lock:
            _started.append(self)

    def alive(self):
        return self.proc.poll() is None

    def stdout(self):
        return _read_text(self.stdout_path)

    def stderr(self):
        return _read_text(self.stderr_path)

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, then SIGKILL: by PID only. Returns the exit code."""
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        for f in (self._out, self._err):
            if not f.closed:
                f.close()
        with _started_lock:
            if self in _started:
                _started.remove(self)
        return self.proc.returncode

    def describe(self):
        return "%s (pid %d, exit %s)\n--- stderr ---\n%s\n--- stdout (tail) ---\n%s" % (
            " ".join(self.args), self.pid, self.proc.poll(), self.stderr()[-4000:],
            self.stdout()[-2000:])


def _read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def wait_for_port(port, process, timeout=START_TIMEOUT):
    """Waits until `port` accepts connections; raises with the process's stderr otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError("%s exited before listening on %d:\n%s" %
                               (process.name, port, process.describe()))
        if port_open(port):
            return
        time.sleep(0.02)
    raise RuntimeError("%s did not listen on %d within %.0fs:\n%s" %
                       (process.name, port, timeout, process.describe()))


class Origin:
    """bulwark-origin on a free loopback port (it binds port 0 and prints the real one)."""

    def __init__(self, workdir=None, extra_args=(), name="origin"):
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bulwark-origin-")
            workdir = self._tmp.name
        self.workdir = workdir
        self.process = Process([ORIGIN_BIN, "--listen", LOOPBACK + ":0"] + list(extra_args),
                               workdir, name)
        self.port = None
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                m = re.search(r"listening on [^\s]*:(\d+)", self.process.stdout())
                if m:
                    self.port = int(m.group(1))
                    break
                if not self.process.alive():
                    break
                time.sleep(0.02)
            if self.port is None:
                raise RuntimeError("origin did not start:\n" + self.process.describe())
            wait_for_port(self.port, self.process)
        except BaseException:
            self.stop()
            raise

    @property
    def address(self):
        return "%s:%d" % (LOOPBACK, self.port)

    def stats(self):
        status, _, body = http_request(self.port, "GET", "/stats")
        assert status == 200, (status, body)
        return json.loads(body)

    def stop(self):
        code = self.process.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return code


class Redis:
    """Debian's redis-server on a free loopback port, no persistence; stopped by PID. kill()
    and start() again keep the port, to test a Redis that goes away and comes back."""

    def __init__(self, name="redis", extra_args=()):
        self._tmp = tempfile.TemporaryDirectory(prefix="bulwark-redis-")
        self.workdir = self._tmp.name
        self.name = name
        self.extra_args = list(extra_args)
        self.process = None
        self.port = None
        try:
            self.start()
        except BaseException:
            self.stop()
            raise

    def start(self):
        for _ in range(5):
            port = self.port or free_port()
            self.process = Process(["redis-server", "--port", str(port), "--bind", LOOPBACK,
                                    "--save", "", "--appendonly", "no"] + self.extra_args,
                                   self.workdir, self.name)
            try:
                wait_for_port(port, self.process)
                self.port = port
                return
            except RuntimeError:
                self.process.stop()
                if self.port is not None and "in use" not in self.process.stdout():
                    raise
        raise RuntimeError("redis-server did not start:\n" + self.process.describe())

    @property
    def url(self):
        return "redis://%s:%d/0" % (LOOPBACK, self.port)

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.alive():
            self.process.proc.kill()
            self.process.proc.wait(timeout=STOP_TIMEOUT)
        if self.process is not None:
            self.process.stop()

    def cli(self, *args):
        """redis-cli against this server; returns its stdout (raw, without quotes)."""
        out = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(self.port), "--raw"] +
                             [str(a) for a in args], capture_output=True, timeout=10, check=True)
        return out.stdout.decode()

    def commands_called(self):
        """Total command calls since start (INFO commandstats)."""
        total = 0
        for line in self.cli("INFO", "commandstats").splitlines():
            m = re.match(r"cmdstat_[^:]+:calls=(\d+)", line)
            if m:
                total += int(m.group(1))
        return total

    def stop(self):
        code = None
        if self.process is not None:
            code = self.process.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return code


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


def _yaml_scalar(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_./:\-]+", text) and not text.startswith(("-", ":")):
        return text
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _yaml_lines(value, indent):
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item and not _flow_list(item):
                lines.append("%s%s:" % (pad, key))
                lines.extend(_yaml_lines(item, indent + 2))
            else:
                lines.append("%s%s: %s" % (pad, key, _yaml_inline(item)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                sub = _yaml_lines(item, indent + 2)
                sub[0] = pad + "- " + sub[0][indent + 2:]
                lines.extend(sub)
            else:
                lines.append("%s- %s" % (pad, _yaml_inline(item)))
    return lines


def _flow_list(value):
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)


def _yaml_inline(value):
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (k, _yaml_inline(v)) for k, v in value.items()) + "}"
    return _yaml_scalar(value)


def yaml_dump(config):
    """Block-style YAML for a dict of dicts/lists/scalars (what a bulwark config holds)."""
    return "\n".join(_yaml_lines(config, 0)) + "\n"


def gateway_config(upstreams, routes, limits=None, server=None, log=None, listen=None,
                   admin=None, workers=2):
    """A config dict. `upstreams`: {name: [targets] or {targets: [...], timeout: ...}}."""
    ups = {}
    for name, spec in upstreams.items():
        ups[name] = {"targets": list(spec)} if isinstance(spec, (list, tuple)) else dict(spec)
    srv = {"listen": listen or "127.0.0.1:0", "workers": workers}
    if limits:
        srv["limits"] = dict(limits)
    if server:
        srv.update(server)
    return {
        "server": srv,
        "admin": {"listen": admin or "127.0.0.1:0"},
        "log": dict(log or {}),
        "upstreams": ups,
        "routes": list(routes),
    }


# ---------------------------------------------------------------------------------------------
# The gateway
# ---------------------------------------------------------------------------------------------


class Gateway:
    """`bulwark serve --config FILE` on free loopback ports, with the access log in a file.

    `config` is a dict from gateway_config(); server.listen, admin.listen and log.access are
    filled in here. Use as a context manager or call stop() (tests: addCleanup(gw.stop))."""

    def __init__(self, config, name="bulwark", attempts=5, access_log=True, admin=True):
        self._tmp = tempfile.TemporaryDirectory(prefix="bulwark-it-")
        self.workdir = self._tmp.name
        self.config_path = os.path.join(self.workdir, "bulwark.yaml")
        self.access_log_path = os.path.join(self.workdir, "access.log")
        self.name = name
        self.process = None
        self.config = None
        self.crashes = []  # stderr of earlier processes that died unexpectedly
        self.crash_reported = False
        self._processes = []
        self._template = json.loads(json.dumps(config))
        self._access_log = access_log
        self._admin = admin
        try:
            self._start(attempts)
        except BaseException:
            self.stop()
            raise

    def _start(self, attempts=5):
        last_error = None
        for attempt in range(attempts):
            reservation = PortReservation()
            self.port = reservation.port
            self.admin_port = free_port() if self._admin else None
            cfg = json.loads(json.dumps(self._template))
            cfg.setdefault("server", {})["listen"] = "%s:%d" % (LOOPBACK, self.port)
            if self._admin:
                cfg.setdefault("admin", {})["listen"] = "%s:%d" % (LOOPBACK, self.admin_port)
            else:
                cfg.setdefault("admin", {})["listen"] = "off"
            cfg.setdefault("log", {})
            if self._access_log:
                cfg["log"].setdefault("access", self.access_log_path)
            cfg["log"].setdefault("level", "info")
            self.config = cfg
            self.write_config(cfg)
            process = Process([BULWARK_BIN, "serve", "--config", self.config_path],
                              self.workdir, "%s.%d" % (self.name, len(self.crashes) + attempt))
            self._processes.append(process)
            try:
                self.process = process
                wait_for_port(self.port, process)
                if self._admin:
                    wait_for_port(self.admin_port, process)
                return
            except RuntimeError as e:
                last_error = e
                process.stop()
                if "already in use" not in process.stderr():
                    raise
            finally:
                reservation.release()
        raise last_error

    def alive(self):
        return self.process is not None and self.process.alive()

    def restart_after_crash(self):
        """When the process died on its own: records why and starts a new one (new ports).
        Returns the dead process's description, or None when it was alive."""
        if self._tmp is None or self.process is None or self.process.alive():
            return None  # stopped on purpose, or alive
        description = self.process.describe()
        self.process.stop()
        self.crashes.append(description)
        self.crash_reported = False
        self._start()
        return description

    def write_config(self, cfg_or_text):
        text = cfg_or_text if isinstance(cfg_or_text, str) else yaml_dump(cfg_or_text)
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)

    def stop(self):
        code = None
        if self.process is not None:
            code = self.process.stop()
        for process in self._processes:
            process.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- conveniences ---------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=10):
        return http_request(self.port, method, path, body=body, headers=headers,
                            timeout=timeout)

    def raw(self, timeout=5):
        return RawClient(self.port, timeout=timeout)

    def admin(self, path, method="GET", body=None, headers=None):
        return http_request(self.admin_port, method, path, body=body, headers=headers)

    def metrics(self):
        status, _, body = self.admin("/metrics")
        assert status == 200, (status, body)
        return parse_metrics(body.decode())

    def access_records(self, count=None, timeout=3.0, predicate=None):
        """The access log's JSON records; waits (the log is flushed every ~100 ms) until at
        least `count` records (matching `predicate`, if given) are there."""
        deadline = time.monotonic() + timeout
        while True:
            records = []
            for line in _read_text(self.access_log_path).splitlines():
                if line.strip():
                    records.append(json.loads(line))
            if predicate is not None:
                records = [r for r in records if predicate(r)]
            if count is None or len(records) >= count or time.monotonic() > deadline:
                if count is None and not records and time.monotonic() <= deadline:
                    time.sleep(0.05)
                    continue
                return records
            time.sleep(0.05)

    def stderr(self):
        return self.process.stderr()


# ---------------------------------------------------------------------------------------------
# HTTP helpers
# ---------------------------------------------------------------------------------------------


def http_request(port, method, path, body=None, headers=None, timeout=10):
    """One request on a new connection; returns (status, HTTPMessage headers, body bytes)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data
    finally:
        conn.close()


def concurrent_requests(port, data, count, timeout=10):
    """Sends the same request bytes on `count` connections at once and returns their
    `Response`s in order: every connection is opened first, then every request is sent, so that
    the requests overlap in the server."""
    clients = []
    try:
        for _ in range(count):
            clients.append(RawClient(port, timeout=timeout))
        for client in clients:
            client.send(data)
        return [client.read_response() for client in clients]
    finally:
        for client in clients:
            client.close()


def parse_metrics(text):
    """Prometheus text → {'name{labels}': value} (labels as written) and {'name': value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def metric(metrics, name, **labels):
    """The value of `name` with exactly these labels (0 when absent)."""
    for key, value in metrics.items():
        if key == name and not labels:
            return value
        m = re.fullmatch(r"([^{]+)\{(.*)\}", key)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        if found == {k: str(v) for k, v in labels.items()}:
            return value
    return 0.0


# ---------------------------------------------------------------------------------------------
# Raw HTTP/1.1 over a socket
# ---------------------------------------------------------------------------------------------


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) in order
        self.body = body
        self.raw_head = raw_head
        self.chunked = False  # set when the body came in chunked framing

    def header(self, name, default=None):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def has_token(self, name, token):
        values = ",".join(self.header_all(name))
        return token.lower() in [t.strip().lower() for t in values.split(",")]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r headers=%r body=%r>" % (self.status, self.reason, self.headers,
                                                       self.body[:300])


class ConnectionClosed(ConnectionError):
    """The peer closed the connection before a complete response."""


class RawClient:
    """A client socket that sends exact bytes and parses exactly what comes back."""

    def __init__(self, port, host=LOOPBACK, timeout=5):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def try_send(self, data):
        """send() that reports failure (the peer may have closed) instead of raising."""
        try:
            self.send(data)
            return True
        except OSError:
            return False

    def _fill(self, deadline):
        if self.eof:
            raise ConnectionClosed("connection closed; buffered %r" % self.buf[:200])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out; buffered %r" % self.buf[:200])
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            raise socket.timeout("timed out; buffered %r" % self.buf[:200])
        if not data:
            self.eof = True
            raise ConnectionClosed("connection closed; buffered %r" % self.buf[:200])
        self.buf += data

    def _read_until(self, marker, deadline):
        while marker not in self.buf:
            self._fill(deadline)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_request=False, timeout=None, skip_interim=True,
                      interim=None):
        """Reads one response. 1xx responses are skipped (and appended to `interim` if a
        list is given) unless skip_interim is False."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            raw_head = self._read_until(b"\r\n\r\n", deadline)
            lines = raw_head[:-4].decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            version, status = parts[0], int(parts[1])
            reason = parts[2] if len(parts) > 2 else ""
            headers = []
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers.append((name, value.strip()))
            response = Response(version, status, reason, headers, b"", raw_head)
            if 100 <= status < 200 and status != 101:
                if interim is not None:
                    interim.append(response)
                if skip_interim:
                    continue
                return response
            break
        if head_request or status in (204, 304):
            return response
        te = ",".join(response.header_all("Transfer-Encoding")).lower()
        cl = response.header("Content-Length")
        if "chunked" in te:
            body = []
            while True:
                size_line = self._read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers, up to the empty line
                    while self._read_until(b"\r\n", deadline) != b"\r\n":
                        pass
                    break
                body.append(self._read_exact(size, deadline))
                if self._read_exact(2, deadline) != b"\r\n":
                    raise ValueError("bad chunk terminator")
            response.body = b"".join(body)
            response.chunked = True
        elif cl is not None:
            response.body = self._read_exact(int(cl), deadline)
        else:
            # close-delimited
            try:
                while True:
                    self._fill(deadline)
            except ConnectionClosed:
                pass
            response.body, self.buf = self.buf, b""
        return response

    def request(self, data, head_request=False, timeout=None):
        self.send(data)
        return self.read_response(head_request=head_request, timeout=timeout)

    def is_closed(self, timeout=2.0):
        """True when the peer closes (EOF or reset) within `timeout` with no further bytes;
        False when the connection stays open that long. Unread bytes fail the check."""
        if self.eof:
            return not self.buf
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                return not self.buf
            if not data:
                self.eof = True
                return not self.buf
            self.buf += data

    def read_until_close(self, timeout=3.0):
        """Everything the peer sends until it closes: (bytes, closed). closed is False when
        the connection was still open after `timeout`."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except ConnectionClosed:
            closed = True
        except socket.timeout:
            closed = False
        data, self.buf = self.buf, b""
        return data, closed

    def stays_open(self, duration=0.3):
        return not self.is_closed(timeout=duration)


def request_bytes(method, path, headers=(), body=b"", version="HTTP/1.1", host="example.test"):
    """Exact request bytes; `headers` is a list of (name, value); Host first unless None."""
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: " + host)
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if isinstance(body, str):
        body = body.encode()
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(body, size=7):
    """`body` in chunked framing with chunks of `size` bytes."""
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


# ---------------------------------------------------------------------------------------------
# A fake upstream
# ---------------------------------------------------------------------------------------------


def parse_message(buf):
    """A complete request at the start of `buf`: (head_text, body, bytes_used), or None when
    more bytes are needed. Content-Length and chunked bodies; no body otherwise."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end + 4].decode("latin-1")
    pos = end + 4
    lower = head.lower()
    if re.search(r"\r\ntransfer-encoding:[^\r]*chunked", lower):
        body = b""
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(buf[pos:eol].split(b";")[0].strip(), 16)
            pos = eol + 2
            if size == 0:
                while True:  # trailer fields, then the empty line
                    eol = buf.find(b"\r\n", pos)
                    if eol < 0:
                        return None
                    line_empty = eol == pos
                    pos = eol + 2
                    if line_empty:
                        return head, body, pos
            if len(buf) < pos + size + 2:
                return None
            body += buf[pos:pos + size]
            pos += size + 2
    m = re.search(r"\r\ncontent-length:\s*(\d+)", lower)
    n = int(m.group(1)) if m else 0
    if len(buf) < pos + n:
        return None
    return head, buf[pos:pos + n], pos + n


class FakeConnection:
    """One accepted connection of a FakeUpstream, as its handler sees it."""

    def __init__(self, upstream, sock, index):
        self.upstream = upstream
        self.sock = sock
        self.index = index
        self.buf = b""
        self.received = b""  # every byte read on this connection
        self.requests = []  # complete requests read on this connection (raw bytes)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        self.received += data
        with self.upstream.lock:
            self.upstream.raw += data
        return True

    def read_request(self, timeout=10.0):
        """Reads one whole request (head + Content-Length or chunked body). Returns
        (head_text, body_bytes), or None when the peer closed or the read failed."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                parsed = parse_message(self.buf)
                if parsed is not None:
                    head, body, used = parsed
                    raw = self.buf[:used]
                    self.buf = self.buf[used:]
                    self.requests.append(raw)
                    with self.upstream.lock:
                        self.upstream.requests.append(raw)
                    return head, body
                if not self._fill(max(0.01, deadline - time.monotonic())):
                    return None
        except (OSError, ValueError):
            return None

    def read_some(self, timeout=10.0):
        """Reads whatever arrives (for upstreams that answer before the request is whole)."""
        try:
            return self._fill(timeout)
        except OSError:
            return False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def wait_closed(self, timeout=10.0):
        """Reads (and records) until the peer closes or the upstream stops."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.upstream.stopping:
            try:
                if not self._fill(0.1):
                    return True
            except socket.timeout:
                continue
            except OSError:
                return True
        return False

    def hold(self):
        """Keeps the connection open, reading nothing useful, until the upstream stops or the
        peer closes."""
        return self.wait_closed(timeout=60.0)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def ok_response(body=b"ok", status=200, extra_headers=(), keep_alive=True):
    if isinstance(body, str):
        body = body.encode()
    lines = ["HTTP/1.1 %d %s" % (status, "OK" if status == 200 else "Status"),
             "Content-Type: text/plain", "Content-Length: %d" % len(body)]
    if not keep_alive:
        lines.append("Connection: close")
    lines.extend("%s: %s" % h for h in extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class FakeUpstream:
    """A threaded TCP server on a free loopback port. `handler(conn)` runs in its own thread
    for each accepted connection (conn: FakeConnection); the socket is closed when it returns.
    Records every byte received (`raw`), every complete request read (`requests`), and the
    number of connections accepted (`connections`)."""

    def __init__(self, handler, backlog=64, accept=True):
        self.handler = handler
        self.lock = threading.Lock()
        self.raw = b""
        self.requests = []
        self.connections = 0
        self.conns = []
        self.stopping = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(backlog)
        self.port = self.listener.getsockname()[1]
        self.threads = []
        self.accept_thread = None
        if accept:
            self.accept_thread = threading.Thread(target=self._accept_loop, daemon=True)
            self.accept_thread.start()

    @property
    def address(self):
        return "%s:%d" % (LOOPBACK, self.port)

    def _accept_loop(self):
        self.listener.settimeout(0.1)
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                index = self.connections
                self.connections += 1
                conn = FakeConnection(self, sock, index)
                self.conns.append(conn)
            t = threading.Thread(target=self._run, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _run(self, conn):
        try:
            self.handler(conn)
        except Exception:  # a handler failure shows up as the gateway's error, not here
            pass
        finally:
            conn.close()

    def request_count(self):
        with self.lock:
            return len(self.requests)

    def stop(self):
        self.stopping = True
        try:
            self.listener.close()
        except OSError:
            pass
        if self.accept_thread is not None:
            self.accept_thread.join(timeout=2)
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            conn.close()
        for t in self.threads:
            t.join(timeout=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------------------------------------
# Test base
# ---------------------------------------------------------------------------------------------


class GatewayTestCase(unittest.TestCase):
    """Base class: helpers to start processes that are always stopped, even on failure."""

    maxDiff = 4000

    @classmethod
    def start_origin(cls, **kwargs):
        origin = Origin(**kwargs)
        cls.addClassCleanup(origin.stop)
        return origin

    @classmethod
    def start_gateway(cls, config, **kwargs):
        gw = Gateway(config, **kwargs)
        cls.addClassCleanup(gw.stop)
        if "_class_gateways" not in cls.__dict__:
            cls._class_gateways = []
        cls._class_gateways.append(gw)
        return gw

    def setUp(self):
        super().setUp()
        # A gateway that died just after the previous test's check: restart it, and say so.
        for gw in type(self).__dict__.get("_class_gateways", []):
            crashed = gw.restart_after_crash()
            if crashed is not None:
                sys.stderr.write("\nbulwark died after the previous test; restarted:\n%s\n"
                                 % crashed)
        self.addCleanup(self._check_class_gateways)

    def _check_class_gateways(self):
        """A class-wide gateway that died during this test fails this test (with its stderr)
        and is restarted, so that the following tests still run against a live process."""
        gateways = type(self).__dict__.get("_class_gateways", [])
        if gateways:
            time.sleep(0.02)  # a crash right after the last response shows up here
        for gw in gateways:
            reported = gw.crash_reported
            crashed = gw.restart_after_crash()
            if crashed is not None and not reported:
                self.fail("bulwark died during this test (restarted for the next tests):\n" +
                          crashed)

    @classmethod
    def start_fake(cls, handler, **kwargs):
        fake = FakeUpstream(handler, **kwargs)
        cls.addClassCleanup(fake.stop)
        return fake

    # per-test variants (stopped at the end of the test)
    def origin(self, **kwargs):
        origin = Origin(**kwargs)
        self.addCleanup(origin.stop)
        return origin

    def gateway(self, config, **kwargs):
        gw = Gateway(config, **kwargs)
        self.addCleanup(gw.stop)
        return gw

    def assertAlive(self, gw, settle=0.02):
        """Fails (with the process's stderr) when bulwark has died."""
        time.sleep(settle)
        if not gw.alive():
            gw.crash_reported = True
            self.fail("bulwark died:\n" +
                      (gw.process.describe() if gw.process else "never started"))

    def fake(self, handler, **kwargs):
        fake = FakeUpstream(handler, **kwargs)
        self.addCleanup(fake.stop)
        return fake

    def raw_client(self, gw, timeout=5):
        client = RawClient(gw.port, timeout=timeout)
        self.addCleanup(client.close)
        return client

    # assertions ---------------------------------------------------------------------------

    def assertJsonError(self, response, status, error):
        """Status, JSON body with "error", and Content-Type application/json."""
        self.assertEqual(response.status, status, response)
        self.assertIn("application/json", response.header("Content-Type", ""), response)
        body = response.json()
        self.assertEqual(body.get("error"), error, response)
        return body

    def assertClosesAfter(self, client, response, timeout=2.0):
        self.assertTrue(response.has_token("Connection", "close"),
                        "expected Connection: close in %r" % (response,))
        self.assertTrue(client.is_closed(timeout), "the connection was not closed")

    def assertStaysOpen(self, client, response=None, duration=0.3):
        if response is not None:
            self.assertFalse(response.has_token("Connection", "close"),
                             "unexpected Connection: close in %r" % (response,))
        self.assertTrue(client.stays_open(duration), "the connection was closed")
