"""A test model for the v1 interop tests: the ``echo`` model plus commands that answer.

Served with ``reactor serve --model tests.interop.v1_models:ReplyEcho`` (the repository root
on ``PYTHONPATH``).
"""

from __future__ import annotations

from reactor_anyio.models import CommandError, CommandReply, Echo, MessageType, UploadedFile
from reactor_anyio.models.base import command


class ReplyEcho(Echo):
    name = "reply_echo"
    messages = {
        **Echo.messages,
        "pong": MessageType(description="The answer to ``ping_reply``.", fields={"text": str}),
        "file": MessageType(description="What ``use_file`` received.",
                            fields={"name": str, "size": int}),
    }

    @command
    def ping_reply(self, text: str) -> CommandReply:
        """Answer with the text sent"""
        return CommandReply("pong", {"text": text})

    @command
    def use_file(self, file: UploadedFile) -> CommandReply:
        """Answer with the uploaded file's name and size"""
        return CommandReply("file", {"name": file.name, "size": len(file.data)})

    @command
    def fail_with(self, code: str) -> None:
        """Fail with the model's own error code"""
        raise CommandError(code, f"failed on purpose with {code}")

    @command
    def crash(self) -> None:
        """Fail unexpectedly"""
        raise RuntimeError("boom")
