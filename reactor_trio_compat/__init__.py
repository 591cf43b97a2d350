"""reactor_trio_compat: hosts aiortc (asyncio-only) on its own thread for trio programs."""
