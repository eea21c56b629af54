"""What a file holds, told by its first bytes: for messages that say what was given where something
else belongs (an exported model passed as a checkpoint, a checkpoint named .onnx, a photo as a model)."""

from __future__ import annotations

from pathlib import Path

PYTORCH, ONNX, EXECUTORCH, IMAGE = "a PyTorch file (.pt)", "an ONNX model (.onnx)", "an ExecuTorch program (.pte)", "an image"
SUFFIXES = {PYTORCH: ".pt", ONNX: ".onnx", EXECUTORCH: ".pte"}
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"GIF87a", b"GIF89a")
# An ONNX ModelProto starts with ir_version (field 1, a varint: 0x08 n) and then its next field in number
# order (producer_name 0x12, ..., graph 0x3a, opset_import 0x42).
ONNX_SECOND_TAGS = b"\x12\x1a\x22\x28\x32\x3a\x42"


def sniff(path: str | Path) -> str | None:
    """What ``path`` holds (one of PYTORCH, ONNX, EXECUTORCH, IMAGE), or None when its first bytes say
    nothing known (or it cannot be read). A hint for messages, never a check that a file is sound."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(16)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04"):  # torch.save writes a zip archive
        return PYTORCH
    if head[4:8] == b"ET12":  # executorch/schema/program.fbs file_identifier
        return EXECUTORCH
    if head.startswith(IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return IMAGE
    if len(head) > 2 and head[0] == 0x08 and head[1] < 0x80 and head[2] in ONNX_SECOND_TAGS:
        return ONNX
    return None


def named_as(kind: str) -> str:
    """"; name it .onnx" for a kind with a suffix of its own (what the file should be called), else ''."""
    return f"; name it {SUFFIXES[kind]}" if kind in SUFFIXES else ""
