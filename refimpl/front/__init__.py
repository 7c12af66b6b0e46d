"""The front of the service: the listener (Unix socket, timeouts, peer credentials), the thread pool, and the
front-end handler (read one request, authenticate, dispatch, write one response). Parsec's `svc:src/front/`."""
