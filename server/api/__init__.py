"""gRPC servicers: validate, convert, call the engine, map errors."""
