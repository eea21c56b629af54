"""The FP32 reference set: a checkpoint's outputs on a parity set, made once on a named device.

A reference set is a folder of PNGs and one ``record.json``: per case the 8-bit input, the
8-bit clean image and the reference output as a 16-bit PNG (clamped to [0, 1]; rounding to
16 bits moves a value by at most 0.5 / 65535 = 7.6e-6, far inside the fp32 bar), plus how it
was made: device (a GPU's model, or the CPU's), torch/CUDA versions, the numerics settings,
checkpoint sha256, tiling and the set's seed. Loading one needs numpy and the image codecs
only, not torch.

On CUDA the reference is made with TF32 and reduced-precision reductions off and
deterministic algorithms on, so it is the fp32 model's own answer, reproducible on that GPU.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cea_edge.atomic import check_own_folder, publish, remove_staged, staging_path
from cea_edge.errors import CeaError
from cea_edge.metrics import psnr
from cea_edge.named_files import named_file
from cea_edge.photo_io import from_float, read_photo, to_float, write_photo

SCHEMA = "cea-edge/parity-reference"
VERSION = 1
RECORD = "record.json"
OUTPUT_QUANTIZATION = 0.5 / 65535  # the largest change 16-bit storage makes to a clamped output
PHOTO_MODE, TILE_MODE = "global", "tile"


@dataclass(frozen=True)
class ReferenceCase:
    name: str
    kind: str  # "tile" or "photo" (cea_edge.parity.cases)
    mode: str  # the context mode it is restored in: "tile" or "global"
    photo: str
    degradation: str
    height: int
    width: int
    input: str  # file names inside the set's folder
    clean: str
    output: str
    input_psnr: float  # degraded input vs clean, dB
    output_psnr: float  # reference output vs clean, dB


@dataclass(frozen=True)
class ReferenceSet:
    folder: Path
    record: dict[str, Any]
    cases: tuple[ReferenceCase, ...]

    @property
    def tile(self) -> int:
        return int(self.record["tiling"]["tile"])

    @property
    def overlap(self) -> int:
        return int(self.record["tiling"]["overlap"])

    @property
    def context_size(self) -> int:
        return int(self.record["tiling"]["context_size"])

    @property
    def checkpoint_sha256(self) -> str:
        return str(self.record["checkpoint"]["sha256"])

    @property
    def device(self) -> str:
        """"cpu" or "cuda": where the reference outputs were computed."""
        return str(self.record["device"]["type"])

    def images(self, case: ReferenceCase) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(input uint8, clean uint8, reference output float32 in [0, 1]), each (H, W, 3)."""
        where = f"reference set '{self.folder}': {RECORD}"
        pixels = [read_photo(named_file(self.folder, name, where)).pixels for name in (case.input, case.clean, case.output)]
        for name, image, depth in zip((case.input, case.clean, case.output), pixels, (np.uint8, np.uint8, np.uint16)):
            if image.shape != (case.height, case.width, 3) or image.dtype != depth:
                raise CeaError(f"reference set '{self.folder}': '{name}' is {image.shape} {image.dtype}, the record says "
                               f"({case.height}, {case.width}, 3) {np.dtype(depth)}; make the reference again")
        return pixels[0], pixels[1], to_float(pixels[2])


def load_reference(folder: str | Path) -> ReferenceSet:
    """A reference set from its folder; CeaError naming what is missing or of another schema."""
    folder = Path(folder)
    path = folder / RECORD
    if not folder.is_dir():
        if folder.exists():  # a record.json or an artifact given where the set's folder belongs
            raise CeaError(f"reference set '{folder}' is a file; a reference set is the folder that "
                           "python -m cea_edge.parity reference --out writes: pass that folder")
        raise CeaError(f"reference set '{folder}' does not exist (make one: python -m cea_edge.parity reference)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CeaError(f"'{folder}' is not a reference set: it has no {RECORD}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CeaError(f"reference set '{folder}': {RECORD} cannot be read ({error})") from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        raise CeaError(f"'{path}' is not a cea-edge parity reference record (schema {SCHEMA})")
    if record.get("version") != VERSION:
        raise CeaError(f"reference set '{folder}' has record version {record.get('version')}; this cea-edge reads "
                       f"version {VERSION}: make the reference again")
    try:
        cases = tuple(ReferenceCase(**case) for case in record["cases"])
        for key in ("tile", "overlap", "context_size"):
            int(record["tiling"][key])
        str(record["checkpoint"]["sha256"]), str(record["device"]["type"])
    except (KeyError, TypeError, ValueError) as error:
        raise CeaError(f"reference set '{folder}': {RECORD} is incomplete ({type(error).__name__}: {error})") from None
    # Only files of this folder: a record naming '../x', an absolute path or a link out of it is refused.
    named = [(name, named_file(folder, name, f"reference set '{folder}': {RECORD}"))
             for case in cases for name in (case.input, case.clean, case.output)]
    missing = [name for name, file in named if not file.is_file()]
    if missing:
        raise CeaError(f"reference set '{folder}' lacks {len(missing)} file(s) its record lists, e.g. '{missing[0]}'")
    return ReferenceSet(folder, record, cases)


# ---- making one -------------------------------------------------------------------------------

def device_record(device: str) -> dict[str, Any]:
    """Check ``device`` and set the numerics that make an fp32 reference; what is recorded of it."""
    import torch

    from cea_edge.machine import machine_info

    kind = device.split(":")[0]
    if kind not in ("cpu", "cuda") or (kind == "cpu" and device != "cpu"):
        raise CeaError(f"--device {device}: choose cpu or cuda (cuda:N for another GPU)")
    settings: dict[str, Any] = {"float32_matmul_precision": "highest"}
    torch.set_float32_matmul_precision("highest")
    if kind == "cpu":
        return {"type": "cpu", "name": machine_info()["cpu"], "torch": torch.__version__, "cuda": None,
                "settings": settings}
    if not torch.cuda.is_available():
        raise CeaError(f"--device {device}: this torch ({torch.__version__}) sees no CUDA GPU; make the reference "
                       "on a GPU machine, or pass --device cpu (recorded as a CPU reference)")
    index = torch.device(device).index or 0
    if index >= torch.cuda.device_count():
        raise CeaError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s)")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, read at first use
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True)
    settings |= {"tf32": False, "reduced_precision_reductions": False, "deterministic_algorithms": True,
                 "cudnn_benchmark": False}
    return {"type": "cuda", "name": torch.cuda.get_device_name(index), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "settings": settings}


def reference_files(record_path: Path) -> list[str]:
    """The files a reference set's record says parity reference wrote (the record itself aside)."""
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if record.get("schema") != SCHEMA:
        raise ValueError(f"not schema {SCHEMA}")
    return [str(case[part]) for case in record["cases"] for part in ("input", "clean", "output")]


def check_reference_out(out: Path, overwrite: bool, checkpoint: Path) -> None:
    """``out`` may receive a reference set: new, or (--overwrite) a reference set holding only what
    parity reference wrote -- never a folder of unknown files or of the checkpoint it reads."""
    check_own_folder(out, "--out", overwrite=overwrite, marker=RECORD, listed=reference_files,
                     command="parity reference", inputs=[checkpoint])


def make_reference(checkpoint: Path, set_name: str, device: str, tile: int, overlap: int, context_size: int,
                   out: Path, overwrite: bool, command: str,
                   progress: Callable[[str], None] | None = None) -> ReferenceSet:
    """Run ``checkpoint`` in PyTorch fp32 on ``device`` over the parity set into ``out`` (staged, then renamed)."""
    from cea_edge.model.checkpoint import file_sha256, load_checkpoint
    from cea_edge.parity.cases import PHOTO_KIND, build_cases, get_parity_set
    from cea_edge.runtime.backends import open_backend
    from cea_edge.runtime.restore import restore_photo

    spec = get_parity_set(set_name)
    check_reference_out(out, overwrite, checkpoint)
    loaded = load_checkpoint(checkpoint)
    if loaded.quantization:
        raise CeaError(f"'{checkpoint}' is a quantized checkpoint; the reference is the fp32 model's "
                       "(check the QAT checkpoint against the reference of the checkpoint it came from)")
    recorded_device = device_record(device)
    backend = open_backend(checkpoint, tile=tile, overlap=overlap, context_size=context_size, device=device)
    photo_mode = PHOTO_MODE if backend.global_mode and backend.adapters else TILE_MODE
    cases = build_cases(spec)
    staged = staging_path(out)
    started = time.perf_counter()
    try:
        staged.mkdir(parents=True)
        entries = []
        for case in cases:
            if progress:
                progress(case.name)
            mode = photo_mode if case.kind == PHOTO_KIND else TILE_MODE
            restored = restore_photo(to_float(case.degraded), backend, mode, overlap=overlap).pixels
            stored = from_float(restored, 16)
            names = {part: f"{case.name}.{part}.png" for part in ("input", "clean", "output")}
            for part, pixels in (("input", case.degraded), ("clean", case.clean), ("output", stored)):
                write_photo(staged / names[part], pixels)
            clean = to_float(case.clean)
            entries.append(ReferenceCase(case.name, case.kind, mode, case.photo, case.degradation,
                                         case.clean.shape[0], case.clean.shape[1], **names,
                                         input_psnr=psnr(clean, to_float(case.degraded)),
                                         output_psnr=psnr(clean, to_float(stored))))
        from cea_edge.machine import machine_info

        record = {
            "schema": SCHEMA, "version": VERSION, "command": command,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.perf_counter() - started, 1),
            "parity_set": asdict(spec),
            "checkpoint": {"file": checkpoint.name, "sha256": file_sha256(checkpoint), "preset": loaded.config.name},
            "tiling": {"tile": tile, "overlap": overlap, "context_size": context_size, "photo_mode": photo_mode},
            "device": recorded_device,
            "machine": machine_info(),
            "storage": {"inputs": "8-bit PNG", "outputs": "16-bit PNG, clamped to [0, 1]",
                        "output_quantization_max_abs": OUTPUT_QUANTIZATION},
            "cases": [asdict(entry) for entry in entries],
        }
        (staged / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        publish(staged, out)
    finally:
        if staged.exists():
            remove_staged(staged)
    return load_reference(out)
