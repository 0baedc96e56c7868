"""A loopback TCP proxy in front of a service, whose open connections a test can cut (a network drop), and
which can answer 502 for a while instead of passing requests on (a gateway whose service is away)."""

from __future__ import annotations

import contextlib
import socket
import threading

CHUNK = 65536
BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class DroppingProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._sent: list[bytes] = []  # what clients sent, to read their request heads
        self.failing = False  # True: new connections get a 502 and are closed
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.failing:
                self._refuse(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._closed:
                    # Accepted while the proxy was closing: ``close`` has already closed what it knew of.
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _refuse(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            client.settimeout(5)
            data = client.recv(CHUNK)
            with self._lock:
                self._sent.append(data)
            client.sendall(BAD_GATEWAY)

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(CHUNK):
                if from_client:
                    with self._lock:
                        self._sent.append(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def requests_for(self, path: str) -> list[str]:
        """Heads of the GET requests clients sent for ``path`` (any query), oldest first."""
        with self._lock:
            sent = [data.decode("latin-1") for data in self._sent]
        return [head for head in sent if head.startswith("GET ") and head.split(" ", 2)[1].split("?")[0] == path]

    def drop(self) -> None:
        """Cuts every open connection at once, both ways, as a network failure would."""
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        # shutdown wakes the accept thread (close alone leaves it blocked in accept on Linux).
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.drop()
