"""The back of the service: the dispatcher (provider ID → back-end handler) and one back-end handler per
provider (capability and admin checks, body decoding, result encoding). Parsec's `svc:src/back/`."""
