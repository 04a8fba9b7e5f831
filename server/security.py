"""Transport security and bearer-token authentication for the gRPC port.

Tokens are random strings that callers send as `authorization: Bearer TOKEN`
metadata. The configuration stores only their SHA-256 digests, each with a
name for logs and metrics and the roles it grants:

- `client`: WorkpoolService (enqueue, status, cancel, watch, explain);
- `worker`: WorkerService, the worker stream;
- `admin`: PoolService (create, update, pause and delete pools).

A token may hold several roles; no role implies another. Health checks stay
open to every caller, so that load balancers and orchestrators need no token.
Reflection, when enabled, accepts any valid token.

A plain SHA-256 suits these tokens because they are long random values made
by `workpool token create`, not passwords that a dictionary could guess.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import secrets
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

logger = logging.getLogger(__name__)

ROLES = ("client", "worker", "admin")
TOKEN_PREFIX = "wpt_"
_DIGEST_LENGTH = 64

# Services and the role each one needs. Methods of services not listed here
# (reflection) need any valid token; health checks need none.
_SERVICE_ROLES = {
    "workpool.v1.WorkpoolService": "client",
    "workpool.v1.WorkerService": "worker",
    "workpool.v1.PoolService": "admin",
}
_OPEN_SERVICES = frozenset({"grpc.health.v1.Health"})


@dataclass(frozen=True)
class TokenEntry:
    """One accepted token: its name, the hex SHA-256 of the token, its roles."""

    name: str
    sha256: str
    roles: frozenset[str]


def hash_token(token: str) -> str:
    """Digest that the configuration stores in place of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """Return a random token with 256 bits of entropy."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_entry_problems(entry: TokenEntry) -> list[tuple[str, str]]:
    """Problems of one configured token, as (field, problem) pairs."""
    problems: list[tuple[str, str]] = []
    if not entry.name or len(entry.name) > 128 or not entry.name.isprintable():
        problems.append(("name", "must be 1 to 128 printable characters"))
    digest = entry.sha256
    if len(digest) != _DIGEST_LENGTH or any(
        c not in "0123456789abcdef" for c in digest
    ):
        problems.append(
            (
                "sha256",
                "must be 64 lowercase hex digits: the output of "
                "`workpool token hash`, not the token itself",
            )
        )
    unknown = sorted(entry.roles - set(ROLES))
    if not entry.roles or unknown:
        problems.append(
            (
                "roles",
                f"must list one or more of {', '.join(ROLES)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            )
        )
    return problems


class TokenTable:
    """Looks up the entry of a presented token by its digest."""

    def __init__(self, entries: Iterable[TokenEntry]) -> None:
        self._by_digest = {entry.sha256: entry for entry in entries}

    def __bool__(self) -> bool:
        return bool(self._by_digest)

    def lookup(self, token: str) -> TokenEntry | None:
        # The digest of an unknown token reveals nothing an attacker can
        # steer, so a dictionary lookup on it leaks no useful timing.
        return self._by_digest.get(hash_token(token))


def bearer_token(metadata: Sequence[tuple[str, Any]] | None) -> str | None:
    """Return the token of an `authorization: Bearer TOKEN` entry, or None."""
    for key, value in metadata or ():
        if key != "authorization":
            continue
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        scheme, _, token = str(value).partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    return None


def required_role(method: str) -> str | None:
    """Role a full method name needs: a role, "" for any token, None for open."""
    service = method.lstrip("/").partition("/")[0]
    if service in _OPEN_SERVICES:
        return None
    return _SERVICE_ROLES.get(service, "")


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Rejects calls without a valid token holding the method's role.

    A missing or unknown token gets UNAUTHENTICATED; a known token without
    the role gets PERMISSION_DENIED. Both happen before the request is read.
    """

    def __init__(
        self,
        tokens: TokenTable,
        on_denied: Callable[[str, str], None] | None = None,
    ) -> None:
        self._tokens = tokens
        self._on_denied = on_denied or (lambda method, reason: None)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        role = required_role(method)
        handler = await continuation(handler_call_details)
        if role is None or handler is None:
            return handler

        token = bearer_token(handler_call_details.invocation_metadata)
        if token is None:
            self._on_denied(method, "missing_token")
            return _denied(
                handler,
                grpc.StatusCode.UNAUTHENTICATED,
                "authorization: missing bearer token: send the metadata "
                "'authorization: Bearer TOKEN' with a token the server lists",
            )
        entry = self._tokens.lookup(token)
        if entry is None:
            self._on_denied(method, "unknown_token")
            return _denied(
                handler,
                grpc.StatusCode.UNAUTHENTICATED,
                "authorization: unknown token: the server lists no token with "
                "this value",
            )
        if role and role not in entry.roles:
            self._on_denied(method, "missing_role")
            return _denied(
                handler,
                grpc.StatusCode.PERMISSION_DENIED,
                f"authorization: token {entry.name!r} lacks the role {role!r} "
                f"that {method} needs",
            )
        return handler


def _denied(
    handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str
) -> grpc.RpcMethodHandler:
    """A handler of the same kind as `handler` that ends the call at once."""

    async def abort(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, message)

    # Response streams must be async generators, which the metrics
    # interceptor iterates.
    async def abort_stream(
        request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        await context.abort(code, message)
        yield

    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    # Without a deserializer the refused request stays raw bytes: nothing an
    # unauthenticated caller sends is decoded.
    return make(
        abort_stream if handler.response_streaming else abort,
        request_deserializer=None,
        response_serializer=handler.response_serializer,
    )


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of the server's TLS setup. client_ca_file turns on mutual
    TLS: clients must then present a certificate that this CA signed."""

    cert_file: str
    key_file: str
    client_ca_file: str = ""


class _CertificateReloader:
    """Rereads the PEM files when they change, for rotation without restart.

    gRPC calls `fetch` before each new connection's handshake. Connections
    open at the time keep the certificate they were made with.
    """

    def __init__(self, files: TlsFiles) -> None:
        self._files = files
        self._lock = threading.Lock()
        self._stamp = self._read_stamp()
        self.initial = self._load()

    def _paths(self) -> list[str]:
        paths = [self._files.cert_file, self._files.key_file]
        if self._files.client_ca_file:
            paths.append(self._files.client_ca_file)
        return paths

    def _read_stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in self._paths():
            status = os.stat(path)
            stamps.append((status.st_mtime_ns, status.st_size))
        return tuple(stamps)

    def _load(self) -> Any:
        files = self._files
        with open(files.cert_file, "rb") as cert, open(files.key_file, "rb") as key:
            pair = (key.read(), cert.read())
        root = None
        if files.client_ca_file:
            with open(files.client_ca_file, "rb") as ca:
                root = ca.read()
        return grpc.ssl_server_certificate_configuration([pair], root)

    def fetch(self) -> Any:
        with self._lock:
            try:
                stamp = self._read_stamp()
            except OSError as error:
                return self._keep_current(error)
            if stamp == self._stamp:
                return None
            # The files are tried once per change: a failed set is not read
            # again on every handshake, and the next change is.
            self._stamp = stamp
            try:
                # gRPC would take an unusable key and fail each handshake,
                # so the files are loaded with Python's ssl module first.
                check_tls_files(self._files)
                configuration = self._load()
            except (OSError, TlsSetupError) as error:
                return self._keep_current(error)
        logger.info("tls certificate reloaded", extra={"event": "tls_reloaded"})
        return configuration

    def _keep_current(self, error: Exception) -> None:
        # A rotation that replaces files one by one can be caught half way;
        # the server keeps serving with the current certificate.
        logger.warning(
            "tls reload failed",
            extra={"event": "tls_reload_failed", "error": str(error)},
        )
        return None


class TlsSetupError(ValueError):
    """A TLS file is unreadable or contains no usable PEM. The message names the
    setting."""


def check_tls_files(files: TlsFiles) -> None:
    """Load the files once with Python's ssl module and raise TlsSetupError
    naming the setting, because gRPC reports a bad file only as a failed bind."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as error:
        raise TlsSetupError(
            f"tls_cert_file, tls_key_file: cannot load {files.cert_file!r} with "
            f"{files.key_file!r}: {error}: give a PEM certificate chain and its "
            "matching private key"
        ) from None
    if files.client_ca_file:
        try:
            context.load_verify_locations(cafile=files.client_ca_file)
        except (OSError, ssl.SSLError) as error:
            raise TlsSetupError(
                f"tls_client_ca_file: cannot load {files.client_ca_file!r}: "
                f"{error}: give one or more PEM CA certificates"
            ) from None


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Credentials that reload the files when they change on disk.

    Raises TlsSetupError when a file cannot be read or parsed, so that a bad
    setup fails at start and not at the first call.
    """
    check_tls_files(files)
    reloader = _CertificateReloader(files)
    return grpc.dynamic_ssl_server_credentials(
        reloader.initial,
        reloader.fetch,
        require_client_authentication=bool(files.client_ca_file),
    )


def is_loopback(address: str) -> bool:
    """Return whether HOST:PORT binds only loopback interfaces."""
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        # A host name other than localhost, or a wildcard such as 0.0.0.0
        # (which parses) or "" (which does not): treat as exposed.
        return False


__all__ = [
    "ROLES",
    "AuthInterceptor",
    "TlsFiles",
    "TlsSetupError",
    "TokenEntry",
    "TokenTable",
    "bearer_token",
    "check_tls_files",
    "hash_token",
    "is_loopback",
    "new_token",
    "required_role",
    "server_credentials",
    "token_entry_problems",
]
