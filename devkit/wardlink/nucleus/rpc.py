"""Server side of event-stream RPC, the protocol under Greengrass IPC.

One ``RpcConnection`` serves one client socket:

* The first message must be CONNECT on stream 0 carrying ``{"authToken": SVCUID}``.
  A known token gets CONNECT_ACK with the ConnectionAccepted flag and binds the
  connection to that component; anything else gets a CONNECT_ACK without the flag
  and the socket is closed (the client raises ``AccessDeniedError``).
* Until then the peer is nobody, and may cost the emulator little: its CONNECT must
  arrive within ``connect_timeout`` seconds of the accept (the socket is closed
  otherwise), and a message longer than ``MAX_CONNECT_MESSAGE_LENGTH`` is refused
  at its prelude, before its body is buffered. Without those bounds, a dozen idle
  sockets announcing 16 MiB messages held some 180 MB. Only an accepted connection
  may send messages up to the event-stream limit of 16 MiB.
* Every request opens a new client-chosen stream id with an APPLICATION_MESSAGE
  that has an ``operation`` header. The first reply on the stream is the
  response (or an APPLICATION_ERROR); streaming operations then send events on
  the same id until either side sends TERMINATE_STREAM.
* Every server message carries ``:message-type``, ``:message-flags`` and
  ``:stream-id`` as INT32 headers: the aws-c-event-stream client drops the
  connection with a protocol error otherwise. Application messages also carry
  ``:content-type: application/json`` and ``service-model-type``, which the
  Python client uses to pick the shape.

Requests run as separate tasks so a slow publish does not stall other streams.
Events a handler emits before its response is written are held back, so a
subscriber never sees an event before the subscription's own response.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any

from wardlink.nucleus.errors import (
    InvalidArgumentsError,
    IpcError,
    ServiceError,
    UnsupportedOperationError,
)
from wardlink.nucleus.eventstream import (
    MAX_MESSAGE_LENGTH,
    FrameReader,
    FramingError,
    Header,
    Message,
    encode,
)

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "0.1.0"
CONTENT_TYPE_JSON = "application/json"
MAX_WRITE_BUFFER = 16 * 1024 * 1024
REJECT_GRACE_SECONDS = 2.0
#: How long a new connection has to send its CONNECT (a real client sends it at once).
CONNECT_TIMEOUT_SECONDS = 5.0
#: The largest message accepted before CONNECT: a CONNECT is a few headers and a token.
MAX_CONNECT_MESSAGE_LENGTH = 16 * 1024


class MessageType(IntEnum):
    APPLICATION_MESSAGE = 0
    APPLICATION_ERROR = 1
    PING = 2
    PING_RESPONSE = 3
    CONNECT = 4
    CONNECT_ACK = 5
    PROTOCOL_ERROR = 6
    INTERNAL_ERROR = 7


class MessageFlag(IntFlag):
    NONE = 0
    CONNECTION_ACCEPTED = 1
    TERMINATE_STREAM = 2


JsonObject = dict[str, Any]


class Stream:
    """One operation's stream, as seen by its handler.

    Handlers of streaming operations keep the stream, call ``send_event`` for
    each event and register cleanup with ``on_close``; cleanup runs exactly once,
    whether the client, the handler or a disconnect ends the stream.
    """

    def __init__(self, connection: RpcConnection, stream_id: int, operation: str) -> None:
        self._connection = connection
        self.stream_id = stream_id
        self.operation = operation
        self.component = connection.component or ""
        self._responded = False
        self._held: list[tuple[str, JsonObject]] = []
        self._closed = False
        self._cleanups: list[Callable[[], None]] = []

    @property
    def closed(self) -> bool:
        return self._closed

    def on_close(self, cleanup: Callable[[], None]) -> None:
        if self._closed:
            cleanup()
        else:
            self._cleanups.append(cleanup)

    async def send_event(self, model_name: str, payload: JsonObject) -> None:
        """Send one stream event; held back until the response has gone out."""
        if self._closed:
            return
        if not self._responded:
            self._held.append((model_name, payload))
            return
        await self._send_now(model_name, payload)

    async def _send_now(self, model_name: str, payload: JsonObject) -> None:
        try:
            await self._connection.send_application(self.stream_id, model_name, payload)
        except ValueError as exc:  # larger than an event-stream message may be
            log.error("dropped a %s event on stream %d: %s", model_name, self.stream_id, exc)

    def send_event_threadsafe(self, model_name: str, payload: JsonObject) -> None:
        """Queue an event from any thread (MQTT callbacks run on CRT threads)."""
        self._connection.submit(self.send_event(model_name, payload))

    async def _respond(self, model_name: str, payload: JsonObject, terminate: bool) -> None:
        await self._connection.send_application(
            self.stream_id, model_name, payload, terminate=terminate
        )
        # Flush until nothing is held; events queued meanwhile keep their order
        # because ``_responded`` only flips once the backlog is empty.
        while self._held:
            held, self._held = self._held, []
            for event_model, event_payload in held:
                await self._send_now(event_model, event_payload)
        self._responded = True

    async def close(self) -> None:
        """End the stream from the server side."""
        if self._closed:
            return
        self._finish()
        await self._connection.send_raw(
            MessageType.APPLICATION_MESSAGE, MessageFlag.TERMINATE_STREAM, self.stream_id
        )

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._connection.forget(self.stream_id)
        cleanups, self._cleanups = self._cleanups, []
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception:
                log.exception("cleanup of stream %d failed", self.stream_id)


Handler = Callable[[Stream, JsonObject], Awaitable[JsonObject]]


@dataclass(frozen=True)
class OperationSpec:
    """How to serve one operation: its handler, response shape and streaming kind."""

    name: str
    response_model: str
    handler: Handler
    streaming: bool = False


class RpcConnection:
    """Serve one client socket until it closes or breaks the protocol."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        authenticate: Callable[[str], str | None],
        operations: dict[str, OperationSpec],
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._authenticate = authenticate
        self._operations = operations
        self._connect_timeout = connect_timeout
        self._connect_timer: asyncio.TimerHandle | None = None
        self._frames = FrameReader(max_message_length=MAX_CONNECT_MESSAGE_LENGTH)
        self._streams: dict[int, Stream] = {}
        self._last_stream_id = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._rejected = False
        self.component: str | None = None

    # ----------------------------------------------------------------- sending
    def submit(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a send coroutine on this connection's loop, from any thread."""

        def start() -> None:
            if self._closing:
                coroutine.close()
            else:
                self._spawn(coroutine)

        try:
            self._loop.call_soon_threadsafe(start)
        except RuntimeError:
            coroutine.close()  # the emulator's loop is gone: nobody is left to deliver to

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("IPC task failed", exc_info=task.exception())

    async def send_raw(
        self,
        message_type: MessageType,
        flags: MessageFlag,
        stream_id: int,
        headers: tuple[Header, ...] = (),
        payload: bytes = b"",
    ) -> None:
        if self._closing or self._writer.is_closing():
            return
        frame = encode(
            Message(
                headers=(
                    Header.int32(":message-type", int(message_type)),
                    Header.int32(":message-flags", int(flags)),
                    Header.int32(":stream-id", stream_id),
                    *headers,
                ),
                payload=payload,
            )
        )
        self._writer.write(frame)
        if self._writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.error("component %s does not read its IPC socket; disconnecting", self.component)
            self.close()
            return
        try:
            await self._writer.drain()
        except ConnectionError:
            self.close()

    async def send_application(
        self,
        stream_id: int,
        model_name: str,
        payload: JsonObject,
        *,
        terminate: bool = False,
        error: bool = False,
    ) -> None:
        await self.send_raw(
            MessageType.APPLICATION_ERROR if error else MessageType.APPLICATION_MESSAGE,
            MessageFlag.TERMINATE_STREAM if terminate else MessageFlag.NONE,
            stream_id,
            (
                Header.string(":content-type", CONTENT_TYPE_JSON),
                Header.string("service-model-type", model_name),
            ),
            json.dumps(payload, separators=(",", ":")).encode(),
        )

    # ---------------------------------------------------------------- receiving
    async def serve(self) -> None:
        self._connect_timer = self._loop.call_later(self._connect_timeout, self._no_connect)
        try:
            while not self._closing:
                chunk = await self._reader.read(65536)
                if not chunk:
                    break
                self._frames.push(chunk)
                # One message at a time: an accepted CONNECT raises the size limit
                # for the messages behind it.
                while not self._closing:
                    try:
                        message = self._frames.next_message()
                    except FramingError as exc:
                        log.warning("dropping IPC connection of %s: %s", self.component or "?", exc)
                        return
                    if message is None:
                        break
                    await self._dispatch(message)
        except ConnectionError:
            pass
        finally:
            self.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()

    def _no_connect(self) -> None:
        if self.component is None and not self._closing:
            log.warning(
                "closing an IPC connection that sent no CONNECT within %.1f s",
                self._connect_timeout,
            )
            self.close()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._connect_timer is not None:
            self._connect_timer.cancel()
        for stream in list(self._streams.values()):
            stream._finish()
        self._writer.close()

    def forget(self, stream_id: int) -> None:
        self._streams.pop(stream_id, None)

    async def _protocol_error(self, reason: str) -> None:
        log.warning("IPC protocol error from %s: %s", self.component or "?", reason)
        await self.send_raw(
            MessageType.PROTOCOL_ERROR,
            MessageFlag.NONE,
            0,
            (Header.string(":content-type", CONTENT_TYPE_JSON),),
            json.dumps({"message": reason}).encode(),
        )
        self.close()

    async def _dispatch(self, message: Message) -> None:
        if self._rejected:
            return
        message_type = message.int32(":message-type")
        flags = MessageFlag(message.int32(":message-flags") or 0) & (
            MessageFlag.CONNECTION_ACCEPTED | MessageFlag.TERMINATE_STREAM
        )
        stream_id = message.int32(":stream-id")
        if message_type is None or stream_id is None:
            await self._protocol_error("missing :message-type or :stream-id header")
            return
        if self.component is None:
            if message_type == MessageType.CONNECT and stream_id == 0:
                await self._connect(message)
            else:
                await self._protocol_error("the first message must be CONNECT")
            return
        if stream_id == 0:
            if message_type == MessageType.PING:
                await self.send_raw(
                    MessageType.PING_RESPONSE, MessageFlag.NONE, 0, payload=message.payload
                )
            elif message_type == MessageType.CONNECT:
                await self._protocol_error("CONNECT sent twice")
            elif message_type not in (MessageType.PING_RESPONSE,):
                await self._protocol_error(f"message type {message_type} is not valid on stream 0")
            return
        if message_type not in (MessageType.APPLICATION_MESSAGE, MessageType.APPLICATION_ERROR):
            await self._protocol_error(f"message type {message_type} is not valid on a stream")
            return
        existing = self._streams.get(stream_id)
        if existing is not None:
            # Request streams carry nothing for the supported operations except
            # the client's close; a TERMINATE_STREAM or error ends the stream.
            if (
                flags & MessageFlag.TERMINATE_STREAM
                or message_type == MessageType.APPLICATION_ERROR
            ):
                existing._finish()
            return
        if stream_id <= self._last_stream_id:
            return  # late message for a stream that already ended
        if stream_id < 0:
            await self._protocol_error("negative stream id")
            return
        self._last_stream_id = stream_id
        operation = message.string("operation")
        if not operation:
            await self._protocol_error("a new stream needs an operation header")
            return
        stream = Stream(self, stream_id, operation)
        self._streams[stream_id] = stream
        if flags & MessageFlag.TERMINATE_STREAM:
            stream._finish()
            return
        self._spawn(self._run_operation(stream, message.payload))

    async def _connect(self, message: Message) -> None:
        version = message.string(":version")
        component: str | None = None
        if version != PROTOCOL_VERSION:
            log.warning(
                "IPC client speaks event-stream RPC %r, expected %s", version, PROTOCOL_VERSION
            )
        else:
            try:
                token = json.loads(message.payload or b"{}").get("authToken")
            except (ValueError, AttributeError):
                token = None
            if isinstance(token, str) and token:
                component = self._authenticate(token)
        if component is None:
            log.warning("IPC connection refused: unknown or missing SVCUID")
            await self.send_raw(MessageType.CONNECT_ACK, MessageFlag.NONE, 0)
            # Let the client read the refusal and hang up itself, so it reports
            # AccessDeniedError rather than a reset; close anyway after a grace period.
            self._rejected = True
            self._loop.call_later(REJECT_GRACE_SECONDS, self.close)
            return
        self.component = component
        if self._connect_timer is not None:
            self._connect_timer.cancel()
        self._frames.max_message_length = MAX_MESSAGE_LENGTH
        log.info("IPC connection accepted for %s", component)
        await self.send_raw(MessageType.CONNECT_ACK, MessageFlag.CONNECTION_ACCEPTED, 0)

    async def _run_operation(self, stream: Stream, payload: bytes) -> None:
        spec = self._operations.get(stream.operation)
        try:
            if spec is None:
                raise UnsupportedOperationError(stream.operation)
            request = _parse_request(payload)
            response = await spec.handler(stream, request)
        except IpcError as exc:
            await self._fail(stream, exc)
            return
        except Exception as exc:
            log.exception("IPC operation %s of %s failed", stream.operation, stream.component)
            await self._fail(stream, ServiceError(f"internal error: {type(exc).__name__}"))
            return
        if stream.closed:
            return
        try:
            await stream._respond(spec.response_model, response, terminate=not spec.streaming)
        except ValueError as exc:  # the response does not fit an event-stream message
            await self._fail(stream, ServiceError(f"response not sent: {exc}"))
            return
        if not spec.streaming:
            stream._finish()

    async def _fail(self, stream: Stream, error: IpcError) -> None:
        log.info("IPC %s from %s refused: %s", stream.operation, stream.component, error.message)
        stream._finish()
        await self.send_application(
            stream.stream_id, error.model_name, error.payload(), terminate=True, error=True
        )


def _parse_request(payload: bytes) -> JsonObject:
    if not payload:
        return {}
    try:
        request = json.loads(payload)
    except ValueError as exc:
        raise InvalidArgumentsError("request payload is not JSON") from exc
    if not isinstance(request, dict):
        raise InvalidArgumentsError("request payload must be a JSON object")
    return request


class RpcServer:
    """Accept IPC connections on a Unix socket."""

    def __init__(
        self,
        socket_path: str,
        authenticate: Callable[[str], str | None],
        operations: dict[str, OperationSpec],
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        self.socket_path = socket_path
        self._authenticate = authenticate
        self._operations = operations
        self._connect_timeout = connect_timeout
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[RpcConnection] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._accept, path=self.socket_path)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = RpcConnection(
            reader, writer, self._authenticate, self._operations, self._connect_timeout
        )
        self._connections.add(connection)
        try:
            await connection.serve()
        finally:
            self._connections.discard(connection)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
