"""reactor_anyio: anyio adapters (HTTP, aiortc) around the reactor_proto core."""
